package org.panamasd.schedulers;

import java.util.function.IntSupplier;

/**
 * Where a run is in the schedule, as the reference's _step_index / _begin_index: the first step finds its
 * position from the timestep unless a begin index was set (image to image starts part-way, and a timestep
 * that occurs twice would be ambiguous); every step advances it. add_noise uses the begin index when one is
 * set (the current position once steps have run), else each timestep's own position.
 */
final class StepIndex {
    private int step = -1, begin = -1;

    /** setTimesteps: a new run. */
    void reset() {
        step = begin = -1;
    }

    void begin(int index, int length) {
        if (index < 0 || index >= length) throw new IllegalArgumentException("begin index " + index + " is outside the " + length + " timesteps");
        begin = index;
    }

    /** The position of the current step; {@code lookup} finds the passed timestep's on the first step without a begin index. */
    int current(IntSupplier lookup) {
        if (step < 0) step = begin >= 0 ? begin : lookup.getAsInt();
        return step;
    }

    void advance() {
        step++;
    }

    /** The position add_noise takes for a timestep ({@code lookup} finds it in the schedule). */
    int forNoise(IntSupplier lookup) {
        if (begin < 0) return lookup.getAsInt();
        return step >= 0 ? step : begin;
    }
}
