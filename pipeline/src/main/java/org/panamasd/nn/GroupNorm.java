package org.panamasd.nn;

import org.panamasd.Functional;
import org.panamasd.Tensor;

/** torch.nn.GroupNorm with affine parameters {@code <prefix>.weight} and {@code .bias}. */
public final class GroupNorm {
    public final Tensor weight;
    public final Tensor bias;
    private final long groups;
    private final double eps;

    public GroupNorm(Weights weights, String prefix, long groups, long channels, double eps) {
        if (channels % groups != 0) throw new IllegalArgumentException(prefix + ": " + channels + " channels do not split into " + groups + " groups");
        this.weight = weights.get(prefix + ".weight", channels);
        this.bias = weights.get(prefix + ".bias", channels);
        this.groups = groups;
        this.eps = eps;
    }

    public Tensor forward(Tensor x) {
        return Functional.groupNorm(x, groups, weight, bias, eps);
    }

    /** SiLU(forward(x)) without a separate activation tensor when autograd does not need one. */
    public Tensor forwardSilu(Tensor x) {
        return Functional.groupNormSilu(x, groups, weight, bias, eps);
    }
}
