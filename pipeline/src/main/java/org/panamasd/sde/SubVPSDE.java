package org.panamasd.sde;

/**
 * The sub-VP SDE: the VP drift with diffusion sqrt(beta(t) (1 - e^{-2 int_0^t beta})), whose variance stays
 * below the VP one (Song et al. 2021, eq. 12); the kernel std is 1 - e^{2 log m(t)}.
 */
public final class SubVPSDE extends VPSDE {

    public SubVPSDE(double betaMin, double betaMax) {
        super(betaMin, betaMax);
    }

    public SubVPSDE() {
        super();
    }

    @Override
    public double diffusion(double t) {
        double discount = -Math.expm1(-2 * betaMin * t - (betaMax - betaMin) * t * t);
        return Math.sqrt(beta(t) * discount);
    }

    @Override
    public double marginalStd(double t) {
        return -Math.expm1(2 * logMeanCoefficient(t));
    }
}
