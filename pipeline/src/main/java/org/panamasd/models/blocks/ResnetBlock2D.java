package org.panamasd.models.blocks;

import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/**
 * norm1, SiLU, conv1, + time_emb_proj(SiLU(temb)), norm2, SiLU, conv2, plus the (1x1-projected when the
 * channel count changes) input, divided by the output scale factor. Without a time embedding (the VAE's
 * blocks, timeEmbedDim 0) there is no time_emb_proj.
 */
public final class ResnetBlock2D {
    private final GroupNorm norm1, norm2;
    private final Conv2d conv1, conv2, convShortcut;
    private final Linear timeEmbProj;
    private final double outputScaleFactor;

    public ResnetBlock2D(Weights w, String prefix, int in, int out, int timeEmbedDim, int groups, double eps, double outputScaleFactor) {
        this.norm1 = new GroupNorm(w, prefix + ".norm1", groups, in, eps);
        this.conv1 = new Conv2d(w, prefix + ".conv1", in, out, 3, 1, 1);
        this.timeEmbProj = timeEmbedDim > 0 ? new Linear(w, prefix + ".time_emb_proj", timeEmbedDim, out, true) : null;
        this.norm2 = new GroupNorm(w, prefix + ".norm2", groups, out, eps);
        this.conv2 = new Conv2d(w, prefix + ".conv2", out, out, 3, 1, 1);
        this.convShortcut = in != out ? new Conv2d(w, prefix + ".conv_shortcut", in, out, 1, 1, 0) : null;
        this.outputScaleFactor = outputScaleFactor;
    }

    /** x: (B, in, H, W), temb: (B, timeEmbedDim) or null -> (B, out, H, W). */
    public Tensor forward(Tensor x, Tensor temb) {
        return Scope.returning(() -> {
            Tensor h = normSiluConv(norm1, conv1, x);
            // h is this block's own conv output, which no backward reads: the additions can go in place
            if (timeEmbProj != null) h.addInPlace(Scope.returning(() -> timeEmbProj.forward(temb.silu()).unsqueeze(2).unsqueeze(3)), 1);
            Tensor out = normSiluConv(norm2, conv2, h);
            out.addInPlace(convShortcut == null ? x : convShortcut.forward(x), 1);
            return outputScaleFactor == 1.0 ? out : out.div(outputScaleFactor);
        });
    }

    /** conv(SiLU(norm(x))), with the normalised activation freed as soon as the convolution has read it. */
    private static Tensor normSiluConv(GroupNorm norm, Conv2d conv, Tensor x) {
        return Scope.returning(() -> conv.forward(norm.forwardSilu(x)));
    }
}
