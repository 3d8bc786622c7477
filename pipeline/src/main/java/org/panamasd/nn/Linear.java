package org.panamasd.nn;

import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * y = x W^T + b (torch.nn.Linear); keys {@code <prefix>.weight} (out, in) and {@code <prefix>.bias}. An int8
 * weight ({@link WeightFormat#INT8}) is dequantized into the input's dtype for each call.
 */
public final class Linear {
    /** The weight as stored: dense, or the int8 values of a quantized one. */
    public final Tensor weight;
    public final Tensor bias;
    private final LayerWeight stored;

    private final ModulePath.Name modulePath;

    public Linear(Weights weights, String prefix, long in, long out, boolean bias) {
        this.modulePath = ModulePath.of(prefix);
        this.stored = weights.layerWeight(prefix + ".weight", out, in);
        this.weight = stored.stored();
        this.bias = bias ? weights.get(prefix + ".bias", out) : null;
    }

    public Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            if (!stored.quantized()) return Functional.linear(x, weight, bias);
            return Scope.returning(() -> Functional.linear(x, stored.in(x.dtype()), bias));
        }
    }
}
