package org.panamasd.training.score;

import org.panamasd.Generator;

/**
 * What a denoising-score-matching objective draws per training example: a noise level, the Gaussian
 * perturbation kernel p(x~ | x_0) = N(m x_0, s^2 I) at that level, the loss weight lambda and the value the
 * network is conditioned on. The level is sigma for NCSN's ladder ({@link NcsnObjective}) and the time t for
 * the SDEs ({@link SdeObjective}); samplers ask for the score at the same levels.
 */
public interface ScoreObjective {

    /** The kernel N(mean x_0, std^2 I), the weight lambda and the network's conditioning input at one level. */
    record Level(double mean, double std, double weight, double condition) {}

    /** The kernel, weight and conditioning at {@code level}. */
    Level at(double level);

    /** One level per example of a batch of {@code batch}. */
    double[] drawLevels(int batch, Generator generator);

    /**
     * The network's conditioning input for a noise std on a geometric sigma range: the position of log sigma
     * between log sigma_min (0) and log sigma_max (999), the same range as a VP model's 999 t. For the VE SDE
     * this is exactly 999 t, so an NCSN ladder and a VE SDE condition their networks alike.
     */
    static double logSigmaCondition(double sigma, double sigmaMin, double sigmaMax) {
        return 999 * Math.log(sigma / sigmaMin) / Math.log(sigmaMax / sigmaMin);
    }
}
