package org.panamasd.nn;

import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;

/** torch.nn.LayerNorm over the last dim, with {@code <prefix>.weight} and {@code .bias}. */
public final class LayerNorm {
    public final Tensor weight;
    public final Tensor bias;
    private final long[] shape;
    private final double eps;

    private final ModulePath.Name modulePath;

    public LayerNorm(Weights weights, String prefix, long dim, double eps) {
        this.modulePath = ModulePath.of(prefix);
        this.weight = weights.get(prefix + ".weight", dim);
        this.bias = weights.get(prefix + ".bias", dim);
        this.shape = new long[] {dim};
        this.eps = eps;
    }

    public Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Functional.layerNorm(x, shape, weight, bias, eps);
        }
    }
}
