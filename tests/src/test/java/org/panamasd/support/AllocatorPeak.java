package org.panamasd.support;

import java.util.function.Supplier;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/** The allocator's peak while some code runs, for memory bounds in tests. */
public final class AllocatorPeak {
    private AllocatorPeak() {}

    /** Peak bytes above what was allocated before, while body runs in a scope of its own (its result included, then freed). */
    public static long above(Supplier<Tensor> body) {
        try (Scope s = Scope.open()) {
            long base = MemoryStats.now().allocatedBytes();
            MemoryStats.resetPeak();
            body.get();
            return MemoryStats.now().peakBytes() - base;
        }
    }
}
