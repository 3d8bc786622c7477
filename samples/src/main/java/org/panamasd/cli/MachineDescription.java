package org.panamasd.cli;

/** The machine a figure was measured on: CPU model, the vector extensions that matter to libtorch, cores, threads. */
final class MachineDescription {
    private MachineDescription() {}

    static String describe() {
        return org.panamasd.benchmark.MachineInfo.current().summary();
    }
}
