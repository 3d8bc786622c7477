package org.panamasd.schedulers;

import org.panamasd.Tensor;

/**
 * Shared pieces of the schedulers that step in sigma space (the VE view x = x_0 + sigma eps of a VP process,
 * sigma = sqrt((1 - alpha-bar) / alpha-bar)): training sigmas, interpolation at fractional timesteps, Karras
 * sigmas and their timesteps, and finding a timestep's index.
 */
final class SigmaSteps {
    /** Zero terminal SNR makes alpha-bar_T exactly 0; sigma-space schedulers use 2^-24 so sigma_T stays finite (~4096). */
    static final double ZERO_SNR_ALPHA_CUMPROD = Math.pow(2, -24);

    /** Training sigmas, ascending with t, as float32 values; with zero SNR the last alpha-bar is 2^-24. */
    static double[] trainingSigmas(NoiseSchedule schedule, boolean zeroSnr) {
        double[] alphaBar = schedule.alphasCumprod();
        if (zeroSnr) alphaBar[alphaBar.length - 1] = ZERO_SNR_ALPHA_CUMPROD;
        double[] sigmas = new double[alphaBar.length];
        for (int i = 0; i < sigmas.length; i++) sigmas[i] = (float) Math.sqrt((float) ((float) (1 - alphaBar[i]) / alphaBar[i]));
        return sigmas;
    }

    /** numpy.interp(x, arange(len(values)), values) in float64. */
    static double interp(double x, double[] values) {
        if (x <= 0) return values[0];
        int last = values.length - 1;
        if (x >= last) return values[last];
        int i = (int) Math.floor(x);
        double slope = values[i + 1] - values[i];
        return slope * (x - i) + values[i];
    }

    /** Karras et al. 2022, eq. (5): sigma_i = (max^(1/rho) + i/(N-1) (min^(1/rho) - max^(1/rho)))^rho, rho = 7. */
    static double[] karras(double sigmaMin, double sigmaMax, int steps) {
        double rho = 7.0;
        double minInvRho = Math.pow(sigmaMin, 1 / rho), maxInvRho = Math.pow(sigmaMax, 1 / rho);
        double[] ramp = TimestepSpacing.linspace(0, 1, steps);
        double[] sigmas = new double[steps];
        for (int i = 0; i < steps; i++) sigmas[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), rho);
        return sigmas;
    }

    /** The fractional training timestep of a sigma, by linear interpolation of log-sigma (clamped to the range). */
    static double sigmaToT(double sigma, double[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int count = 0;
        for (double l : logSigmas) if (logSigma - l >= 0) count++;
        int low = Math.min(Math.max(count - 1, 0), logSigmas.length - 2);
        int high = low + 1;
        double w = (logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[high]);
        w = Math.min(Math.max(w, 0), 1);
        return (1 - w) * low + w * high;
    }

    static double[] logs(double[] values) {
        double[] logs = new double[values.length];
        for (int i = 0; i < values.length; i++) logs[i] = (float) Math.log(values[i]);
        return logs;
    }

    /**
     * The index of a timestep in the schedule; the second match when it occurs twice (as the reference).
     * Fractional timesteps match within a few float32 ulps, so a schedule computed elsewhere (a Karras
     * timestep of 1.0 against our 1.0000001) still finds its step.
     */
    static int indexOf(double[] timesteps, double timestep) {
        int first = -1;
        for (int i = 0; i < timesteps.length; i++) {
            if (sameTimestep(timesteps[i], timestep)) {
                if (first >= 0) return i;
                first = i;
            }
        }
        if (first < 0) throw new IllegalArgumentException("timestep " + timestep + " is not in the schedule " + java.util.Arrays.toString(timesteps));
        return first;
    }

    static boolean sameTimestep(double a, double b) {
        return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
    }


    private SigmaSteps() {}
}
