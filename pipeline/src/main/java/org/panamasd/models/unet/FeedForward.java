package org.panamasd.models.unet;

import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/** GEGLU feed-forward (Shazeer 2020): net.0.proj to 2 x 4 dim, value * GELU(gate), then net.2 back to dim. */
final class FeedForward {
    private final Linear proj, out;

    private final ModulePath.Name modulePath;

    FeedForward(Weights w, String prefix, int dim) {
        this.modulePath = ModulePath.of(prefix);
        int inner = dim * 4;
        this.proj = new Linear(w, prefix + ".net.0.proj", dim, inner * 2L, true);
        this.out = new Linear(w, prefix + ".net.2", inner, dim, true);
    }

    Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Scope.returning(() -> out.forward(Functional.geglu(proj.forward(x))));
        }
    }
}
