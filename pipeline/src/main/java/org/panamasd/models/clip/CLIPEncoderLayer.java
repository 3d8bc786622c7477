package org.panamasd.models.clip;

import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.AttentionChoices;
import org.panamasd.nn.LayerNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/** Pre-norm causal self-attention and MLP (fc1, quick_gelu or gelu, fc2), each residual. */
final class CLIPEncoderLayer {
    private final LayerNorm layerNorm1, layerNorm2;
    private final Linear q, k, v, out, fc1, fc2;
    private final int heads, headDim;
    private final boolean quickGelu;

    private final ModulePath.Name modulePath;

    CLIPEncoderLayer(Weights w, String prefix, CLIPTextConfig c) {
        this.modulePath = ModulePath.of(prefix);
        int d = c.hiddenSize();
        this.layerNorm1 = new LayerNorm(w, prefix + ".layer_norm1", d, c.layerNormEps());
        this.q = new Linear(w, prefix + ".self_attn.q_proj", d, d, true);
        this.k = new Linear(w, prefix + ".self_attn.k_proj", d, d, true);
        this.v = new Linear(w, prefix + ".self_attn.v_proj", d, d, true);
        this.out = new Linear(w, prefix + ".self_attn.out_proj", d, d, true);
        this.layerNorm2 = new LayerNorm(w, prefix + ".layer_norm2", d, c.layerNormEps());
        this.fc1 = new Linear(w, prefix + ".mlp.fc1", d, c.intermediateSize(), true);
        this.fc2 = new Linear(w, prefix + ".mlp.fc2", c.intermediateSize(), d, true);
        this.heads = c.heads();
        this.headDim = d / c.heads();
        this.quickGelu = c.hiddenAct().equals("quick_gelu");
    }

    /** x: (B, S, d). */
    Tensor forward(Tensor input) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Scope.returning(() -> {
                long b = input.size(0), s = input.size(1);
                Tensor h = layerNorm1.forward(input);
                Tensor attended = AttentionChoices.scaledDotProductAttention(heads(q.forward(h), b, s), heads(k.forward(h), b, s),
                        heads(v.forward(h), b, s), null, true);
                Tensor x = input.add(out.forward(attended.transpose(1, 2).reshape(b, s, (long) heads * headDim)));
                Tensor m = fc1.forward(layerNorm2.forward(x));
                m = quickGelu ? m.mul(m.mul(1.702).sigmoid()) : m.gelu();  // quick_gelu(x) = x sigmoid(1.702 x)
                return x.add(fc2.forward(m));
            });
        }
    }

    private Tensor heads(Tensor t, long b, long s) {
        return t.view(b, s, heads, headDim).transpose(1, 2);
    }
}
