package org.panamasd.models.vae;

import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.AttentionChoices;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/** Single-head self-attention over the H*W positions after a GroupNorm, with biases, plus the input. */
final class VaeAttention {
    private final GroupNorm groupNorm;
    private final Linear toQ, toK, toV, toOut;

    private final ModulePath.Name modulePath;

    VaeAttention(Weights w, String prefix, int channels, int groups) {
        this.modulePath = ModulePath.of(prefix);
        this.groupNorm = new GroupNorm(w, prefix + ".group_norm", groups, channels, 1e-6);
        this.toQ = new Linear(w, prefix + ".to_q", channels, channels, true);
        this.toK = new Linear(w, prefix + ".to_k", channels, channels, true);
        this.toV = new Linear(w, prefix + ".to_v", channels, channels, true);
        this.toOut = new Linear(w, prefix + ".to_out.0", channels, channels, true);
    }

    /** x: (B, C, H, W). */
    Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            long b = x.size(0), c = x.size(1), h = x.size(2), width = x.size(3);
            return Scope.returning(() -> {
                Tensor tokens = groupNorm.forward(x).view(b, c, h * width).transpose(1, 2);  // (B, HW, C)
                Tensor q = toQ.forward(tokens).unsqueeze(1), k = toK.forward(tokens).unsqueeze(1), v = toV.forward(tokens).unsqueeze(1);
                Tensor attended = AttentionChoices.scaledDotProductAttention(q, k, v, null, false).squeeze(1);  // (B, HW, C)
                // (B, HW, C) read as (B, H, W, C) and permuted: a channels-last view, no copy, with the strides of a
                // channels-last tensor in every dimension (a transposed reshape leaves batch strides that make the
                // next convolution fall back to NCHW)
                Tensor out = toOut.forward(attended).view(b, h, width, c).permute(0, 3, 1, 2);
                return out.addInPlace(x, 1);
            });
        }
    }
}
