package org.panamasd;

/**
 * What runs around each native op call when someone asked for it: {@link OpTimes} (the call's wall time) and
 * {@link ModulePath}'s op tag (which op an allocation belongs to). Both off, an op pays one read of
 * {@link #active}.
 */
final class OpHooks {
    static final int TIMES = 1, TAGS = 2;
    /** The hooks on, as bits; read on every op. */
    static volatile int active;

    private OpHooks() {}

    static synchronized void set(int bit, boolean on) {
        active = on ? active | bit : active & ~bit;
    }

    /** Runs the hooks that precede the call {@code name}; returns its start time when it is to be timed, else 0. */
    static long before(String name) {
        int a = active;
        if ((a & TAGS) != 0) ModulePath.tagOp(name);
        return (a & TIMES) != 0 ? System.nanoTime() : 0;
    }

    /** Tags the allocations of an untimed call {@code name} (one that returns no tensor). */
    static void tag(String name) {
        if ((active & TAGS) != 0) ModulePath.tagOp(name);
    }
}
