package org.panamasd.sde;

/**
 * Variance-preserving SDE, the continuous limit of DDPM: dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw with
 * beta(t) = beta_min + t (beta_max - beta_min) (Song et al. 2021, eq. 11).
 */
public class VPSDE implements Sde {
    protected final double betaMin, betaMax;

    public VPSDE(double betaMin, double betaMax) {
        if (!(betaMin > 0 && betaMax > betaMin)) throw new IllegalArgumentException("need 0 < beta_min < beta_max, got " + betaMin + ", " + betaMax);
        this.betaMin = betaMin;
        this.betaMax = betaMax;
    }

    /** The paper's defaults: beta_min 0.1, beta_max 20. */
    public VPSDE() {
        this(0.1, 20);
    }

    /**
     * 1e-3, the paper's sampling_eps for VP and sub-VP: the kernel std is about sqrt(beta_min t) near 0, so a
     * sampler's last step toward 1e-5 would multiply the network's noise estimate by g^2 dt / s ~ 4 at 25 steps.
     */
    @Override
    public double eps() {
        return 1e-3;
    }

    public double beta(double t) {
        return betaMin + t * (betaMax - betaMin);
    }

    /** log m(t) = -1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min. */
    protected double logMeanCoefficient(double t) {
        return -0.25 * t * t * (betaMax - betaMin) - 0.5 * t * betaMin;
    }

    @Override
    public double driftCoefficient(double t) {
        return -0.5 * beta(t);
    }

    @Override
    public double diffusion(double t) {
        return Math.sqrt(beta(t));
    }

    @Override
    public double marginalMeanCoefficient(double t) {
        return Math.exp(logMeanCoefficient(t));
    }

    @Override
    public double marginalStd(double t) {
        return Math.sqrt(-Math.expm1(2 * logMeanCoefficient(t)));
    }

    @Override
    public double priorStd() {
        return 1.0;
    }

    @Override
    public double correctorAlpha(double t, int steps) {
        return 1 - beta(t) / steps;
    }
}
