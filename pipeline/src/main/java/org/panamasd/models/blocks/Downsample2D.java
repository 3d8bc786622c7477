package org.panamasd.models.blocks;

import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.Weights;

/**
 * A 3x3 convolution with stride 2. With padding 0 (the VAE encoder) the input is first padded by one on the
 * right and bottom only, as the reference does.
 */
public final class Downsample2D {
    private final Conv2d conv;
    private final boolean asymmetricPad;

    private final ModulePath.Name modulePath;

    public Downsample2D(Weights w, String prefix, int channels, int padding) {
        this.modulePath = ModulePath.of(prefix);
        this.conv = new Conv2d(w, prefix + ".conv", channels, channels, 3, 2, padding);
        this.asymmetricPad = padding == 0;
    }

    public Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            if (!asymmetricPad) return conv.forward(x);
            return Scope.returning(() -> conv.forward(Functional.pad(x, new long[] {0, 1, 0, 1}, Functional.PadMode.CONSTANT, 0)));
        }
    }
}
