package org.panamasd.sde;

/** NCSN's noise levels: the geometric sequence sigma_max = sigma_1 > ... > sigma_L = sigma_min (Song and Ermon 2019). */
public final class NoiseLadder {

    public static double[] geometric(double sigmaMin, double sigmaMax, int levels) {
        if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) throw new IllegalArgumentException("need 0 < sigma_min < sigma_max");
        if (levels < 2) throw new IllegalArgumentException("a ladder needs at least 2 levels, got " + levels);
        double[] sigmas = new double[levels];
        double ratio = Math.log(sigmaMin / sigmaMax) / (levels - 1);
        for (int i = 0; i < levels; i++) sigmas[i] = sigmaMax * Math.exp(i * ratio);
        return sigmas;
    }

    private NoiseLadder() {}
}
