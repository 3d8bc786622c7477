package org.panamasd.sde;

/**
 * Variance-exploding SDE, the continuous limit of NCSN / SMLD: dx = sqrt(d sigma^2 / dt) dw with the
 * geometric sigma(t) = sigma_min (sigma_max / sigma_min)^t (Song et al. 2021, eq. 9).
 */
public final class VESDE implements Sde {
    private final double sigmaMin, sigmaMax;

    public VESDE(double sigmaMin, double sigmaMax) {
        if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) throw new IllegalArgumentException("need 0 < sigma_min < sigma_max, got " + sigmaMin + ", " + sigmaMax);
        this.sigmaMin = sigmaMin;
        this.sigmaMax = sigmaMax;
    }

    /** The paper's CIFAR-10 defaults: sigma_min 0.01, sigma_max 50. */
    public VESDE() {
        this(0.01, 50);
    }

    public double sigma(double t) {
        return sigmaMin * Math.pow(sigmaMax / sigmaMin, t);
    }

    @Override
    public double driftCoefficient(double t) {
        return 0;
    }

    @Override
    public double diffusion(double t) {
        return sigma(t) * Math.sqrt(2 * Math.log(sigmaMax / sigmaMin));
    }

    @Override
    public double marginalMeanCoefficient(double t) {
        return 1;
    }

    @Override
    public double marginalStd(double t) {
        return sigma(t);
    }

    @Override
    public double priorStd() {
        return sigmaMax;
    }

    @Override
    public double correctorAlpha(double t, int steps) {
        return 1;
    }
}
