package org.panamasd.sde;

import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSource;

/**
 * Annealed Langevin dynamics (Song and Ermon 2019, Algorithm 1): for each noise level sigma_i of the ladder,
 * T steps of x <- x + alpha_i / 2 score(x, sigma_i) + sqrt(alpha_i) z with alpha_i = epsilon sigma_i^2 / sigma_L^2.
 * The score function here takes the noise level sigma in place of a time.
 */
public final class AnnealedLangevin {
    private final double[] sigmas;
    private final int stepsPerLevel;
    private final double stepSize;

    public AnnealedLangevin(double[] sigmas, int stepsPerLevel, double stepSize) {
        if (stepsPerLevel < 1 || !(stepSize > 0)) throw new IllegalArgumentException("need at least one step per level and a positive step size");
        this.sigmas = sigmas.clone();
        this.stepsPerLevel = stepsPerLevel;
        this.stepSize = stepSize;
    }

    public Tensor sample(Tensor x0, ScoreFunction scoreAtSigma, NoiseSource noise) {
        double last = sigmas[sigmas.length - 1];
        Tensor x = x0;
        for (double sigma : sigmas) {
            double alpha = stepSize * sigma * sigma / (last * last);
            for (int s = 0; s < stepsPerLevel; s++) {
                x = ReverseTime.step(state -> state.add(scoreAtSigma.score(state, sigma).mul(alpha / 2))
                        .add(noise.next(state.shape(), state.dtype(), state.device()).mul(Math.sqrt(alpha))), x);
            }
        }
        return x;
    }
}
