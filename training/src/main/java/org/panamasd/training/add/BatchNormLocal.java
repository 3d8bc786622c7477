package org.panamasd.training.add;

import org.panamasd.Tensor;
import org.panamasd.nn.Weights;

/**
 * Batch normalisation over small groups of the batch (StyleGAN-T's BatchNormLocal): statistics per channel
 * over the tokens of {@code virtualBatch} samples at a time, so a large batch does not average away the
 * per-sample signal the discriminator needs. No running statistics: the heads are only used in training.
 */
final class BatchNormLocal {
    private final Tensor weight, bias;
    private final int virtualBatch;
    private final double eps = 1e-5;

    BatchNormLocal(Weights w, String prefix, long channels, int virtualBatch) {
        this.weight = w.get(prefix + ".weight", channels);
        this.bias = w.get(prefix + ".bias", channels);
        this.virtualBatch = virtualBatch;
    }

    /** x (B, C, N). */
    Tensor forward(Tensor x) {
        long b = x.size(0), c = x.size(1), n = x.size(2);
        long groups = (b + virtualBatch - 1) / virtualBatch;
        if (b % groups != 0) groups = 1;  // an uneven batch is normalised as one group
        Tensor g = x.reshape(groups, b / groups, c, n);
        Tensor mean = g.mean(new long[] {1, 3}, true);
        Tensor var = g.var(new long[] {1, 3}, 0, true);
        Tensor normalized = g.sub(mean).div(var.add(eps).sqrt()).reshape(b, c, n);
        return normalized.mul(weight.reshape(1, c, 1)).add(bias.reshape(1, c, 1));
    }
}
