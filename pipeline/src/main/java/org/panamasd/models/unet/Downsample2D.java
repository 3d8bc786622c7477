package org.panamasd.models.unet;

import org.panamasd.Tensor;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.Weights;

/** A 3x3 convolution with stride 2. */
final class Downsample2D {
    private final Conv2d conv;

    Downsample2D(Weights w, String prefix, int channels, int padding) {
        this.conv = new Conv2d(w, prefix + ".conv", channels, channels, 3, 2, padding);
    }

    Tensor forward(Tensor x) {
        return conv.forward(x);
    }
}
