package org.panamasd.nn;

import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/** torch.nn.GroupNorm with affine parameters {@code <prefix>.weight} and {@code .bias}. */
public final class GroupNorm {
    public final Tensor weight;
    public final Tensor bias;
    private final long groups;
    private final double eps;

    private final ModulePath.Name modulePath;

    public GroupNorm(Weights weights, String prefix, long groups, long channels, double eps) {
        this.modulePath = ModulePath.of(prefix);
        if (channels % groups != 0) throw new IllegalArgumentException(prefix + ": " + channels + " channels do not split into " + groups + " groups");
        this.weight = weights.get(prefix + ".weight", channels);
        this.bias = weights.get(prefix + ".bias", channels);
        this.groups = groups;
        this.eps = eps;
    }

    public Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Functional.groupNorm(x, groups, weight, bias, eps);
        }
    }

    /**
     * The per-sample, per-channel affine map this norm applies to {@code x}: forward(x) == x * scale + shift,
     * each (B, C, 1, 1) in float32 (float64 for a float64 x), from the group statistics of the whole of x. Lets a caller normalise x piece by piece;
     * the statistics too are gathered over pieces of at most {@code pieceBytes} of x (a reduction over a
     * channels-last tensor's groups would copy it whole), as float64 sums ({@link Functional#channelMoments}: one pass
     * over a float32 or bfloat16 piece, without the float64 copy other pieces are summed through).
     */
    public Tensor[] scaleShift(Tensor x, long pieceBytes) {
        long b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        long rows = Math.max(1, pieceBytes / Math.max(1, x.numel() / h * x.dtype().elementSize()));
        Tensor[] out = new Tensor[2];
        try (Scope scope = Scope.open()) {
            Tensor sum = Tensor.zeros(DType.FLOAT64, x.device(), b, c), squares = Tensor.zeros(DType.FLOAT64, x.device(), b, c);
            for (long r0 = 0; r0 < h; r0 += rows) {
                try (Scope piece = Scope.open()) {
                    // one pass over the band's rows where the shim's kernels take them; else through a float64 copy of them
                    Tensor moments = Functional.channelMoments(x.narrow(2, r0, Math.min(rows, h - r0)));
                    sum.addInPlace(moments.get(0), 1);
                    squares.addInPlace(moments.get(1), 1);
                }
            }
            double count = (double) (c / groups) * h * w;
            Tensor mean = sum.view(b, groups, c / groups).sum(new long[] {2}, true).div(count);                  // (B, G, 1)
            Tensor var = squares.view(b, groups, c / groups).sum(new long[] {2}, true).div(count).sub(mean.mul(mean));
            Tensor rstd = var.add(eps).rsqrt();
            Tensor gamma = weight.to(DType.FLOAT64).view(1, groups, c / groups);
            Tensor scale = rstd.mul(gamma);                                                                 // (B, G, C/G)
            Tensor shift = bias.to(DType.FLOAT64).view(1, groups, c / groups).sub(mean.mul(scale));
            // float32 at least: rounded to bfloat16, the map would bring back the cancellation that normalising in
            // float32 avoids (the shim's scale_shift_silu applies it to a bfloat16 input in float32)
            DType kept = x.dtype() == DType.FLOAT64 ? DType.FLOAT64 : DType.FLOAT32;
            out[0] = scale.view(b, c, 1, 1).to(kept).moveToParent();
            out[1] = shift.view(b, c, 1, 1).to(kept).moveToParent();
        }
        return out;
    }

    /** SiLU(forward(x)) without a separate activation tensor when autograd does not need one. */
    public Tensor forwardSilu(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Functional.groupNormSilu(x, groups, weight, bias, eps);
        }
    }
}
