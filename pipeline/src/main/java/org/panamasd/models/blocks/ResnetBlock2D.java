package org.panamasd.models.blocks;

import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.BandedConvolution;
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
            Tensor h = BandedConvolution.normSiluConv(norm1, conv1, x);
            // h is this block's own conv output, which no backward reads: the additions can go in place
            if (timeEmbProj != null) h.addInPlace(Scope.returning(() -> timeEmbProj.forward(temb.silu()).unsqueeze(2).unsqueeze(3)), 1);
            // h is dead once conv2 has read it: large ones are overwritten by conv2's output band by band
            Tensor out = BandedConvolution.normSiluConvOver(norm2, conv2, h);
            if (out != h) h.close();
            if (convShortcut == null) out.addInPlace(x, 1);
            else BandedConvolution.addConv1x1(out, convShortcut, x);
            return outputScaleFactor == 1.0 ? out : out.div(outputScaleFactor);
        });
    }
}
