package org.panamasd.models.dinov2;

import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.AttentionChoices;
import org.panamasd.nn.LayerNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/** Pre-norm attention and MLP, each scaled per channel by its layer scale (lambda1) and added back. */
final class Dinov2Layer {
    private final LayerNorm norm1, norm2;
    private final Linear query, key, value, dense, fc1, fc2;
    private final Tensor layerScale1, layerScale2;
    private final int heads, headDim;

    Dinov2Layer(Weights w, String prefix, Dinov2Config c) {
        int d = c.hiddenSize();
        this.norm1 = new LayerNorm(w, prefix + ".norm1", d, c.layerNormEps());
        this.query = new Linear(w, prefix + ".attention.attention.query", d, d, c.qkvBias());
        this.key = new Linear(w, prefix + ".attention.attention.key", d, d, c.qkvBias());
        this.value = new Linear(w, prefix + ".attention.attention.value", d, d, c.qkvBias());
        this.dense = new Linear(w, prefix + ".attention.output.dense", d, d, true);
        this.layerScale1 = w.get(prefix + ".layer_scale1.lambda1", d);
        this.norm2 = new LayerNorm(w, prefix + ".norm2", d, c.layerNormEps());
        this.fc1 = new Linear(w, prefix + ".mlp.fc1", d, (long) d * c.mlpRatio(), true);
        this.fc2 = new Linear(w, prefix + ".mlp.fc2", (long) d * c.mlpRatio(), d, true);
        this.layerScale2 = w.get(prefix + ".layer_scale2.lambda1", d);
        this.heads = c.heads();
        this.headDim = d / c.heads();
    }

    /** x: (B, N, d). */
    Tensor forward(Tensor input) {
        return Scope.returning(() -> {
            long b = input.size(0), n = input.size(1);
            Tensor h = norm1.forward(input);
            Tensor attended = AttentionChoices.scaledDotProductAttention(split(query.forward(h), b, n), split(key.forward(h), b, n),
                    split(value.forward(h), b, n), null, false);
            Tensor x = input.add(dense.forward(attended.transpose(1, 2).reshape(b, n, (long) heads * headDim)).mul(layerScale1));
            Tensor m = fc2.forward(fc1.forward(norm2.forward(x)).gelu());
            return x.add(m.mul(layerScale2));
        });
    }

    private Tensor split(Tensor t, long b, long n) {
        return t.view(b, n, heads, headDim).transpose(1, 2);
    }
}
