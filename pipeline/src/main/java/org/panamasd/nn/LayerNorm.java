package org.panamasd.nn;

import org.panamasd.Functional;
import org.panamasd.Tensor;

/** torch.nn.LayerNorm over the last dim, with {@code <prefix>.weight} and {@code .bias}. */
public final class LayerNorm {
    public final Tensor weight;
    public final Tensor bias;
    private final long[] shape;
    private final double eps;

    public LayerNorm(Weights weights, String prefix, long dim, double eps) {
        this.weight = weights.get(prefix + ".weight", dim);
        this.bias = weights.get(prefix + ".bias", dim);
        this.shape = new long[] {dim};
        this.eps = eps;
    }

    public Tensor forward(Tensor x) {
        return Functional.layerNorm(x, shape, weight, bias, eps);
    }
}
