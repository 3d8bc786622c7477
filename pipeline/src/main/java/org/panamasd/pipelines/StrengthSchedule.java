package org.panamasd.pipelines;

import java.util.Arrays;
import org.panamasd.schedulers.Scheduler;

/**
 * The part of the schedule that image to image runs, as the reference's get_timesteps: of N steps,
 * init = min(int(N * strength), N) are run, from step t_start = N - init on (counted in model calls, so times
 * the scheduler's order), and the scheduler's begin index is set there. The scheduler keeps its full-length
 * setup, so a DDIM step still goes down by T / N.
 */
public record StrengthSchedule(int startStep, double[] timesteps) {

    /** Sets the scheduler's timesteps for {@code steps} and its begin index; the result lists the timesteps to run. */
    public static StrengthSchedule apply(Scheduler scheduler, int steps, double strength) {
        int start = steps - check(steps, strength);
        scheduler.setTimesteps(steps);
        double[] all = scheduler.timesteps();
        int first = start * scheduler.order();
        scheduler.setBeginIndex(first);
        return new StrengthSchedule(start, Arrays.copyOfRange(all, first, all.length));
    }

    /** The number of steps {@code strength} keeps of {@code steps}; fails unless it is in (0, 1] and keeps one. */
    public static int check(int steps, double strength) {
        if (!(strength > 0 && strength <= 1)) throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        int init = Math.min((int) (steps * strength), steps);  // truncated, as Python's int() of the double product
        if (init < 1) throw new IllegalArgumentException("strength " + strength + " leaves no denoising step of " + steps);
        return init;
    }

    @Override
    public double[] timesteps() {
        return timesteps.clone();
    }

    /** The timestep the image latents are noised to. */
    public double latentTimestep() {
        return timesteps[0];
    }
}
