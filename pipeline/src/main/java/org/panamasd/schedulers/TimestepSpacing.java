package org.panamasd.schedulers;

/**
 * How N inference timesteps are picked from T training timesteps (diffusers' timestep_spacing; Lin et al.
 * 2023, table 2). Values are returned descending and unrounded; each scheduler rounds as the reference does.
 */
public enum TimestepSpacing {
    /** arange(N) * (T // N), reversed, plus steps_offset. */
    LEADING("leading"),
    /** arange(T, 0, -T / N) - 1: always includes T - 1, the step zero terminal SNR needs. */
    TRAILING("trailing"),
    /** linspace(0, T - 1, N), reversed. */
    LINSPACE("linspace");

    private final String configName;

    TimestepSpacing(String configName) {
        this.configName = configName;
    }

    public static TimestepSpacing fromConfigName(String name) {
        for (TimestepSpacing s : values()) if (s.configName.equals(name)) return s;
        throw new IllegalArgumentException("unknown timestep_spacing '" + name + "' (leading, trailing or linspace)");
    }

    public String configName() {
        return configName;
    }

    /**
     * Descending timesteps, as doubles. LEADING is already integral (with the offset added); TRAILING is
     * np.round(arange(T, 0, -T/N)) - 1 (integral); LINSPACE is fractional (linspace(0, T-1, N)).
     */
    public double[] timesteps(int trainTimesteps, int steps, int stepsOffset) {
        double[] t = new double[steps];
        switch (this) {
            case LEADING -> {
                int ratio = trainTimesteps / steps;
                for (int i = 0; i < steps; i++) t[i] = (double) (steps - 1 - i) * ratio + stepsOffset;
            }
            case TRAILING -> {
                double ratio = (double) trainTimesteps / steps;
                for (int i = 0; i < steps; i++) t[i] = Math.rint(trainTimesteps - i * ratio) - 1;
            }
            case LINSPACE -> {
                double[] line = linspace(0, trainTimesteps - 1, steps);
                for (int i = 0; i < steps; i++) t[i] = line[steps - 1 - i];
            }
        }
        return t;
    }

    /** numpy.linspace(start, stop, num) in float64 (endpoint included). */
    static double[] linspace(double start, double stop, int num) {
        double[] out = new double[num];
        if (num == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) out[i] = start + i * step;
        out[num - 1] = stop;
        return out;
    }

    /** Fails when the spacing (leading with an offset, typically) puts a timestep outside [0, T). */
    static void checkRange(double[] timesteps, int trainTimesteps, TimestepSpacing spacing, int stepsOffset) {
        for (double t : timesteps)
            if (t < 0 || t >= trainTimesteps)
                throw new IllegalArgumentException(spacing.configName + " spacing with steps_offset " + stepsOffset + " gives timestep "
                        + (long) t + " outside [0, " + trainTimesteps + ") for " + timesteps.length + " steps");
    }

    /** Checks the requested step count against the training timesteps. */
    static void checkSteps(int steps, int trainTimesteps) {
        if (steps < 1) throw new IllegalArgumentException("num_inference_steps must be at least 1, got " + steps);
        if (steps > trainTimesteps)
            throw new IllegalArgumentException("num_inference_steps " + steps + " exceeds num_train_timesteps " + trainTimesteps);
    }
}
