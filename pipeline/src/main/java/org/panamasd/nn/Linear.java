package org.panamasd.nn;

import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;

/** y = x W^T + b (torch.nn.Linear); keys {@code <prefix>.weight} (out, in) and {@code <prefix>.bias}. */
public final class Linear {
    public final Tensor weight;
    public final Tensor bias;

    private final ModulePath.Name modulePath;

    public Linear(Weights weights, String prefix, long in, long out, boolean bias) {
        this.modulePath = ModulePath.of(prefix);
        this.weight = weights.get(prefix + ".weight", out, in);
        this.bias = bias ? weights.get(prefix + ".bias", out) : null;
    }

    public Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Functional.linear(x, weight, bias);
        }
    }
}
