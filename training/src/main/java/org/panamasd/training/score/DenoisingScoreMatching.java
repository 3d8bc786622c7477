package org.panamasd.training.score;

import org.panamasd.Tensor;

/**
 * The denoising score matching loss (Vincent 2011): for x~ = m x_0 + s z with z ~ N(0, I), the score of the
 * perturbation kernel is grad log p(x~ | x_0) = -(x~ - m x_0) / s^2 = -z / s, so
 * L = mean over the batch of lambda_b / 2 * sum over dimensions of (score_b + z_b / s_b)^2
 * (Song and Ermon 2019, eq. 5 with lambda(sigma) of eq. 6; Song et al. 2021, eq. 7, whose expectation
 * carries the same 1/2 in their code).
 */
public final class DenoisingScoreMatching {
    private DenoisingScoreMatching() {}

    /**
     * score and noise (B, ...); std and weight (B,): s_b and lambda_b. Returns the scalar loss in the current
     * scope, differentiable in {@code score}.
     */
    public static Tensor loss(Tensor score, Tensor noise, Tensor std, Tensor weight) {
        long batch = score.size(0);
        Tensor residual = score.add(noise.div(broadcast(std, score))).reshape(batch, -1);  // (B, D): s + z / s
        Tensor perExample = residual.pow(2).sum(new long[] {1}, false).mul(weight).mul(0.5);  // (B,)
        return perExample.mean();
    }

    /** (B,) as (B, 1, ..., 1) to broadcast against {@code like}. */
    static Tensor broadcast(Tensor perExample, Tensor like) {
        long[] shape = new long[like.dim()];
        java.util.Arrays.fill(shape, 1);
        shape[0] = like.size(0);
        return perExample.reshape(shape);
    }
}
