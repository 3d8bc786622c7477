package org.panamasd.nn;

import org.panamasd.Functional;
import org.panamasd.Tensor;

/** A 2-d convolution (torch.nn.Conv2d, square kernel); keys {@code <prefix>.weight} (out, in, k, k) and {@code .bias}. */
public final class Conv2d {
    public final Tensor weight;
    public final Tensor bias;
    private final long stride, padding;

    public Conv2d(Weights weights, String prefix, long in, long out, long kernel, long stride, long padding) {
        this.weight = weights.get(prefix + ".weight", out, in, kernel, kernel);
        this.bias = weights.get(prefix + ".bias", out);
        this.stride = stride;
        this.padding = padding;
    }

    /** Whether this is a 3x3 convolution with stride 1 and padding 1, which keeps the input's height and width. */
    public boolean keepsSize3x3() {
        return weight.size(2) == 3 && weight.size(3) == 3 && stride == 1 && padding == 1;
    }

    public Tensor forward(Tensor x) {
        return Functional.conv2d(x, weight, bias, stride, padding);
    }
}
