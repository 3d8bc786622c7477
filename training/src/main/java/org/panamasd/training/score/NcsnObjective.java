package org.panamasd.training.score;

import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.sde.NoiseLadder;

/**
 * NCSN's objective (Song and Ermon 2019, eq. 5-6): sigma drawn uniformly from the geometric ladder
 * sigma_1 > ... > sigma_L, x~ = x + sigma z, and l(theta; sigma) = 1/2 E ||s(x~, sigma) + (x~ - x) / sigma^2||^2
 * weighted by lambda(sigma) = sigma^2, which makes every level's term O(1) (their section 4.2). Sampled with
 * annealed Langevin dynamics over the same ladder ({@link org.panamasd.sde.AnnealedLangevin}).
 */
public final class NcsnObjective implements ScoreObjective {
    private final double[] sigmas;

    public NcsnObjective(double sigmaMin, double sigmaMax, int levels) {
        this.sigmas = NoiseLadder.geometric(sigmaMin, sigmaMax, levels);
    }

    /** The ladder, largest first. */
    public double[] sigmas() {
        return sigmas.clone();
    }

    public double sigmaMin() {
        return sigmas[sigmas.length - 1];
    }

    public double sigmaMax() {
        return sigmas[0];
    }

    /** The level is sigma itself: the kernel N(x_0, sigma^2 I), lambda = sigma^2. */
    @Override
    public Level at(double sigma) {
        return new Level(1, sigma, sigma * sigma, ScoreObjective.logSigmaCondition(sigma, sigmaMin(), sigmaMax()));
    }

    @Override
    public double[] drawLevels(int batch, Generator generator) {
        long[] index = Tensor.randint(0, sigmas.length, generator, batch).toLongArray();
        double[] levels = new double[batch];
        for (int i = 0; i < batch; i++) levels[i] = sigmas[(int) index[i]];
        return levels;
    }
}
