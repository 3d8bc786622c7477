package org.panamasd.training;

import org.panamasd.Generator;

/**
 * The random state of a training run, derived from (seed, step): step n always draws from a generator seeded
 * with a mix of both, so a run resumed at step n draws exactly what an uninterrupted run draws there, and the
 * whole RNG state of a checkpoint is the seed and the step.
 */
public final class StepSeeds {
    private StepSeeds() {}

    /** A fresh generator for step {@code step} of a run seeded {@code seed} (SplitMix64 of the pair). */
    public static Generator forStep(long seed, long step) {
        return new Generator(mix(seed * 0x9E3779B97F4A7C15L + step));
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }
}
