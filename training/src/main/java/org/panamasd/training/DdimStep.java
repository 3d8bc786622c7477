package org.panamasd.training;

import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSchedule;

/**
 * Deterministic DDIM (eta 0) between per-row timesteps, given the model's x_0: z' = a' x̂ + s' (z - a x̂) / s,
 * written as z' = cz z + cx x̂ with cz = s'/s and cx = a' - (s'/s) a (a = sqrt(alpha-bar), s = sqrt(1 - alpha-bar)).
 * Timestep -1 is the clean end (alpha-bar = 1), where the step returns x̂. Distillation targets are built from
 * these steps (progressive distillation's two-step target, ADD's regression pairs), so they share one form.
 */
public final class DdimStep {
    private DdimStep() {}

    /** alpha-bar at t, or 1 at the clean end t = -1. */
    public static double alphaBar(NoiseSchedule schedule, long t) {
        return t < 0 ? 1.0 : schedule.alphaCumprod((int) t);
    }

    /**
     * Per row, {cz, cx} of the step from {@code from} to {@code to}. The same pair inverts it: the x̂ that takes z to
     * a given z' is (z' - cz z) / cx.
     */
    public static double[][] coefficients(NoiseSchedule schedule, long[] from, long[] to) {
        int b = from.length;
        double[] cz = new double[b], cx = new double[b];
        for (int r = 0; r < b; r++) {
            double a = Math.sqrt(alphaBar(schedule, from[r])), s = Math.sqrt(1 - alphaBar(schedule, from[r]));
            double a2 = Math.sqrt(alphaBar(schedule, to[r])), s2 = Math.sqrt(1 - alphaBar(schedule, to[r]));
            cz[r] = s2 / s;
            cx[r] = a2 - s2 / s * a;
        }
        return new double[][] {cz, cx};
    }

    /** The step from z at {@code from} to {@code to} given x̂, per row. */
    public static Tensor step(NoiseSchedule schedule, Tensor z, Tensor x0, long[] from, long[] to) {
        double[][] c = coefficients(schedule, from, to);
        return z.mul(NoiseSchedule.rowsLike(c[0], z)).add(x0.mul(NoiseSchedule.rowsLike(c[1], z)));
    }
}
