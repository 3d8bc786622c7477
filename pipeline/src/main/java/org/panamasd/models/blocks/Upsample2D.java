package org.panamasd.models.blocks;

import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.BandedConvolution;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.Weights;

/** Nearest-neighbour 2x upsampling (or to the skip connection's size), then a 3x3 convolution. */
public final class Upsample2D {
    private final Conv2d conv;

    private final ModulePath.Name modulePath;

    public Upsample2D(Weights w, String prefix, int channels) {
        this.modulePath = ModulePath.of(prefix);
        this.conv = new Conv2d(w, prefix + ".conv", channels, channels, 3, 1, 1);
    }

    /** size: the (H, W) to reach, or null for twice the input. */
    public Tensor forward(Tensor x, long[] size) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            // the enlarged input (4x the block's input) dies as soon as the convolution has read it, or never exists
            // whole when it is large (BandedConvolution)
            if (size == null) return BandedConvolution.upsampleConv(conv, x);
            return Scope.returning(() -> conv.forward(Functional.interpolate(x, size[0], size[1], Functional.Interpolation.NEAREST, null)));
        }
    }
}
