package org.panamasd.models.unet;

import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.LayerNorm;
import org.panamasd.nn.Weights;

/** Pre-norm self-attention, cross-attention on the text context, and GEGLU feed-forward, each residual. */
final class BasicTransformerBlock {
    private final LayerNorm norm1, norm2, norm3;
    private final Attention attn1, attn2;
    private final FeedForward ff;

    private final ModulePath.Name modulePath;

    BasicTransformerBlock(Weights w, String prefix, int dim, int heads, int headDim, int contextDim) {
        this.modulePath = ModulePath.of(prefix);
        this.norm1 = new LayerNorm(w, prefix + ".norm1", dim, 1e-5);
        this.attn1 = new Attention(w, prefix + ".attn1", dim, dim, heads, headDim);
        this.norm2 = new LayerNorm(w, prefix + ".norm2", dim, 1e-5);
        this.attn2 = new Attention(w, prefix + ".attn2", dim, contextDim, heads, headDim);
        this.norm3 = new LayerNorm(w, prefix + ".norm3", dim, 1e-5);
        this.ff = new FeedForward(w, prefix + ".ff", dim);
    }

    /** x: (B, HW, dim), context: (B, S, contextDim). */
    Tensor forward(Tensor x, Tensor context) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            // each residual branch's output is its own temporary: the residual is added into it in place
            Tensor h = Scope.returning(() -> attn1.forward(norm1.forward(x), null).addInPlace(x, 1));
            Tensor h2 = Scope.returning(() -> attn2.forward(norm2.forward(h), context).addInPlace(h, 1));
            return Scope.returning(() -> ff.forward(norm3.forward(h2)).addInPlace(h2, 1));
        }
    }
}
