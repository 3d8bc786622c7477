package org.panamasd.training.score;

import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.sde.Sde;

/**
 * The continuous-time objective of Song et al. 2021 (eq. 7): t ~ U(eps, T), x_t from the SDE's perturbation
 * kernel N(m(t) x_0, s(t)^2 I) (their appendix B: VE m = 1, s = sigma(t); VP m = e^{-1/4 t^2 (b_max - b_min)
 * - 1/2 t b_min}, s^2 = 1 - m^2), and lambda(t) = s(t)^2, proportional to 1 / E||grad log p_0t||^2. With
 * likelihood weighting lambda(t) = g(t)^2 instead (Song, Durkan, Murray and Ermon 2021, Theorem 1), the loss
 * bounds the negative log-likelihood; its weight is large near t = 0 for VP, so its loss is noisier (no
 * importance sampling of t is done here).
 *
 * <p>The conditioning input is 999 t, as the paper's code gives its DDPM-style networks; for the VE SDE, whose
 * sigma(t) is geometric, that is also {@link ScoreObjective#logSigmaCondition} of sigma(t), the input an NCSN
 * network gets at the same sigma.
 */
public final class SdeObjective implements ScoreObjective {
    static final double TRAINING_EPS = 1e-5;
    private final Sde sde;
    private final boolean likelihoodWeighting;

    public SdeObjective(Sde sde, boolean likelihoodWeighting) {
        this.sde = sde;
        this.likelihoodWeighting = likelihoodWeighting;
    }

    public Sde sde() {
        return sde;
    }

    public boolean likelihoodWeighting() {
        return likelihoodWeighting;
    }

    /** The level is the time t. */
    @Override
    public Level at(double t) {
        double std = sde.marginalStd(t), g = sde.diffusion(t);
        double weight = likelihoodWeighting ? g * g : std * std;
        return new Level(sde.marginalMeanCoefficient(t), std, weight, 999 * t);
    }

    /** t ~ U(eps, T) with the paper's training eps, 1e-5 for every SDE (samplers stop at {@link Sde#eps()}, 1e-3 for VP). */
    @Override
    public double[] drawLevels(int batch, Generator generator) {
        double[] u = Tensor.rand(generator, batch).toDoubleArray();
        double[] t = new double[batch];
        for (int i = 0; i < batch; i++) t[i] = TRAINING_EPS + (sde.T() - TRAINING_EPS) * u[i];
        return t;
    }
}
