package org.panamasd.sde;

import org.panamasd.Tensor;

/**
 * A forward diffusion dx = f(x, t) dt + g(t) dw on t in [0, T] (Song et al. 2021, eq. 5), with a linear drift
 * f(x, t) = a(t) x and a Gaussian perturbation kernel p_0t(x_t | x_0) = N(m(t) x_0, s(t)^2 I). Its reverse
 * is dx = [f(x, t) - g(t)^2 grad log p_t(x)] dt + g(t) dw-bar (eq. 6).
 */
public interface Sde {

    /** The end time T (1 for all three SDEs of the paper). */
    default double T() {
        return 1.0;
    }

    /** The time sampling stops at, to avoid the singular t = 0 (the paper's code: 1e-5 for VE, 1e-3 for VP and sub-VP). */
    default double eps() {
        return 1e-5;
    }

    /** a(t) of the linear drift f(x, t) = a(t) x. */
    double driftCoefficient(double t);

    default Tensor drift(Tensor x, double t) {
        return x.mul(driftCoefficient(t));
    }

    /** g(t). */
    double diffusion(double t);

    /** m(t): the perturbation kernel's mean is m(t) x_0. */
    double marginalMeanCoefficient(double t);

    /** s(t): the perturbation kernel's std. */
    double marginalStd(double t);

    /** The std of the prior p_T that sampling starts from (N(0, std^2 I)). */
    double priorStd();

    /**
     * The Langevin corrector's step-size factor at t: 1 for VE, the discrete alpha_i = 1 - beta_i of the
     * N-step chain for VP (as in the paper's code).
     */
    double correctorAlpha(double t, int steps);
}
