package org.panamasd.models.unet;

import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/**
 * The spatial transformer: GroupNorm, proj_in (1x1 conv, or linear with use_linear_projection), the
 * transformer blocks over the H*W tokens, proj_out, plus the input.
 */
final class Transformer2DModel {
    private final GroupNorm norm;
    private final Conv2d convIn, convOut;
    private final Linear linearIn, linearOut;
    private final BasicTransformerBlock[] blocks;
    private final int inner;

    private final ModulePath.Name modulePath;

    Transformer2DModel(Weights w, String prefix, int channels, int heads, int layers, int contextDim, int groups, boolean linearProjection) {
        this.modulePath = ModulePath.of(prefix);
        this.inner = channels;  // heads * (channels / heads)
        int headDim = channels / heads;
        this.norm = new GroupNorm(w, prefix + ".norm", groups, channels, 1e-6);
        if (linearProjection) {
            this.linearIn = new Linear(w, prefix + ".proj_in", channels, inner, true);
            this.convIn = null;
        } else {
            this.convIn = new Conv2d(w, prefix + ".proj_in", channels, inner, 1, 1, 0);
            this.linearIn = null;
        }
        this.blocks = new BasicTransformerBlock[layers];
        for (int i = 0; i < layers; i++)
            blocks[i] = new BasicTransformerBlock(w, prefix + ".transformer_blocks." + i, inner, heads, headDim, contextDim);
        if (linearProjection) {
            this.linearOut = new Linear(w, prefix + ".proj_out", inner, channels, true);
            this.convOut = null;
        } else {
            this.convOut = new Conv2d(w, prefix + ".proj_out", inner, channels, 1, 1, 0);
            this.linearOut = null;
        }
    }

    /** x: (B, C, H, W), context: (B, S, contextDim). */
    Tensor forward(Tensor x, Tensor context) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            long b = x.size(0), h = x.size(2), width = x.size(3);
            return Scope.returning(() -> {
                Tensor hidden = norm.forward(x);
                if (convIn != null) hidden = convIn.forward(hidden);
                hidden = hidden.permute(0, 2, 3, 1).reshape(b, h * width, inner);  // (B, HW, inner)
                if (linearIn != null) hidden = linearIn.forward(hidden);
                for (BasicTransformerBlock block : blocks) hidden = block.forward(hidden, context);
                if (linearOut != null) hidden = linearOut.forward(hidden);
                hidden = hidden.reshape(b, h, width, inner).permute(0, 3, 1, 2).contiguous();
                if (convOut != null) hidden = convOut.forward(hidden);
                return hidden.addInPlace(x, 1);  // a temporary of this module, read by no backward
            });
        }
    }
}
