package org.panamasd.models.unet;

import org.panamasd.ModulePath;
import org.panamasd.Tensor;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/** linear_1, SiLU, linear_2: the MLP over the sinusoidal embedding. */
public final class TimestepEmbedding {
    private final Linear linear1, linear2;

    private final ModulePath.Name modulePath;

    public TimestepEmbedding(Weights w, String prefix, int in, int dim) {
        this.modulePath = ModulePath.of(prefix);
        this.linear1 = new Linear(w, prefix + ".linear_1", in, dim, true);
        this.linear2 = new Linear(w, prefix + ".linear_2", dim, dim, true);
    }

    public Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return linear2.forward(linear1.forward(x).silu());
        }
    }
}
