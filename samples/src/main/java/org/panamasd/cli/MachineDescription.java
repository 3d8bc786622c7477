package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The machine a figure was measured on: CPU model, the vector extensions that matter to libtorch, cores, threads. */
final class MachineDescription {
    private MachineDescription() {}

    static String describe() {
        String model = "unknown CPU";
        String flags = "";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model.equals("unknown CPU")) model = line.substring(line.indexOf(':') + 1).trim();
                if (line.startsWith("flags") && flags.isEmpty()) flags = " " + line.substring(line.indexOf(':') + 1).trim() + " ";
            }
        } catch (java.io.IOException e) {
            // not Linux: the model stays unknown
        }
        StringBuilder ext = new StringBuilder();
        for (String f : List.of("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")) if (flags.contains(" " + f + " ")) ext.append(ext.isEmpty() ? "" : ",").append(f);
        return String.format("%s (%s), %d cores, libtorch threads %d", model, ext.isEmpty() ? "no AVX2" : ext, Runtime.getRuntime().availableProcessors(),
                org.panamasd.Torch.numThreads());
    }
}
