package org.panamasd.models.unet;

import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.AttentionChoices;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/**
 * Multi-head attention: to_q, to_k, to_v (no bias), softmax(q k^T / sqrt(d)) v per head, then to_out.0. Keys
 * and values come from the context for cross-attention, from x itself for self-attention. Computed in the
 * model's dtype: in float32 upcast_attention needs nothing more; in bfloat16 the scores are not upcast either,
 * since upcast_attention (SD 2.x) guards float16's narrow range against overflow and bfloat16 has float32's range,
 * and libtorch's CPU softmax accumulates a bfloat16 row in float32 (measured: within the output's rounding).
 */
final class Attention {
    private final Linear toQ, toK, toV, toOut;
    private final int heads;
    private final int headDim;

    private final ModulePath.Name modulePath;

    Attention(Weights w, String prefix, int queryDim, int contextDim, int heads, int headDim) {
        this.modulePath = ModulePath.of(prefix);
        int inner = heads * headDim;
        this.toQ = new Linear(w, prefix + ".to_q", queryDim, inner, false);
        this.toK = new Linear(w, prefix + ".to_k", contextDim, inner, false);
        this.toV = new Linear(w, prefix + ".to_v", contextDim, inner, false);
        this.toOut = new Linear(w, prefix + ".to_out.0", inner, queryDim, true);
        this.heads = heads;
        this.headDim = headDim;
    }

    /** x: (B, S, queryDim), context: (B, S', contextDim) or null -> (B, S, queryDim). */
    Tensor forward(Tensor x, Tensor context) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Scope.returning(() -> {
                Tensor source = context == null ? x : context;
                Tensor q = splitHeads(toQ.forward(x)), k = splitHeads(toK.forward(source)), v = splitHeads(toV.forward(source));
                Tensor attended = AttentionChoices.scaledDotProductAttention(q, k, v, null, false);  // (B, heads, S, headDim)
                long batch = x.size(0), tokens = x.size(1);
                return toOut.forward(attended.transpose(1, 2).reshape(batch, tokens, (long) heads * headDim));
            });
        }
    }

    /** (B, S, heads * headDim) -> (B, heads, S, headDim) */
    private Tensor splitHeads(Tensor t) {
        return t.view(t.size(0), t.size(1), heads, headDim).transpose(1, 2);
    }
}
