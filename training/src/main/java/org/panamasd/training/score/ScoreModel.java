package org.panamasd.training.score;

import org.panamasd.Tensor;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.sde.ScoreFunction;

/**
 * s_theta(x, level) from a {@link ScoreNetwork}. The network sees x scaled to about unit variance,
 * c_in = 1 / sqrt(m^2 + s^2) (EDM's input scaling with sigma_data = 1, Karras et al. 2022, Table 1; a VP
 * kernel already has m^2 + s^2 = 1), because a VE input at sigma 50 would otherwise reach the first
 * convolution 50 times larger than at sigma 0.01. Its output is read as the noise: score = -output / s
 * (NCSNv2's s(x, sigma) = f(x) / sigma; the paper's VP models), so it stays O(1) at every level and, with
 * lambda = s^2, the DSM loss becomes 1/2 ||output - z||^2, DDPM's epsilon loss.
 */
public final class ScoreModel {
    private final ScoreNetwork network;
    private final ScoreObjective objective;
    private final int nullClass;

    /** {@code nullClass}: the label of the unconditional model (guidance), or -1 if the network has none. */
    public ScoreModel(ScoreNetwork network, ScoreObjective objective, int nullClass) {
        this.network = network;
        this.objective = objective;
        this.nullClass = nullClass;
    }

    public ScoreObjective objective() {
        return objective;
    }

    /** The score at x (B, ...) with one level per example and labels (B,), in the current scope. */
    public Tensor score(Tensor x, double[] levels, Tensor labels) {
        LevelBatch l = LevelBatch.of(objective, levels);
        return score(x, l.mean(), l.std(), l.condition(), labels);
    }

    /** The score from per-example kernel means and stds (B,) and conditioning values (B,). */
    public Tensor score(Tensor x, Tensor mean, Tensor std, Tensor condition, Tensor labels) {
        Tensor m = DenoisingScoreMatching.broadcast(mean.to(x.dtype()), x), s = DenoisingScoreMatching.broadcast(std.to(x.dtype()), x);
        Tensor inputScale = m.pow(2).add(s.pow(2)).rsqrt();
        return network.forward(x.mul(inputScale), condition, labels).to(x.dtype()).div(s).neg();
    }

    /**
     * What the samplers call: the score at one level for the whole batch, for {@code labels} (B,); with
     * {@code guidance} > 1 classifier-free guidance on the scores, s_uncond + w (s_cond - s_uncond) (the
     * scores are affine in the network output, so this equals guiding the noise prediction).
     */
    public ScoreFunction scoreFunction(Tensor labels, double guidance) {
        boolean guided = ClassifierFreeGuidance.enabled(guidance);
        if (guided && nullClass < 0) throw new IllegalArgumentException("guidance needs a network trained with a null class");
        return (x, level) -> {
            long batch = x.size(0);
            if (!guided) return score(x, levels(level, batch), labels);
            Tensor both = score(Tensor.cat(0, x, x), levels(level, 2 * batch),
                    Tensor.cat(0, labels, Tensor.full(nullClass, labels.dtype(), labels.device(), batch)));
            Tensor[] halves = both.chunk(2, 0);
            return ClassifierFreeGuidance.combine(halves[1], halves[0], guidance);
        };
    }

    private static double[] levels(double level, long batch) {
        double[] all = new double[(int) batch];
        java.util.Arrays.fill(all, level);
        return all;
    }
}
