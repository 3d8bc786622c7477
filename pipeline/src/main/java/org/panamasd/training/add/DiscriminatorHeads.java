package org.panamasd.training.add;

import java.util.ArrayList;
import java.util.List;
import org.panamasd.Tensor;
import org.panamasd.nn.Linear;
import org.panamasd.nn.RandomWeights;

/**
 * ADD's discriminator: trainable heads D_k on the frozen feature network's layers F_k, each a two-layer MLP
 * over the tokens (LeakyReLU 0.2) whose per-token logits are averaged; the logits of all heads are summed.
 */
public final class DiscriminatorHeads implements AutoCloseable {
    private final RandomWeights weights;
    private final int[] layers;
    private final Linear[] hidden, out;

    /** Heads on the given layers (indices into the feature network's hidden states) of width {@code dim}. */
    public DiscriminatorHeads(int[] layers, int dim, long seed) {
        this.weights = new RandomWeights(seed);
        this.layers = layers.clone();
        this.hidden = new Linear[layers.length];
        this.out = new Linear[layers.length];
        for (int k = 0; k < layers.length; k++) {
            hidden[k] = new Linear(weights, "heads." + k + ".0", dim, dim, true);
            out[k] = new Linear(weights, "heads." + k + ".2", dim, 1, true);
        }
    }

    /** sum_k mean_tokens D_k(F_k): one logit per sample (B,), from the feature network's hidden states. */
    public Tensor logits(List<Tensor> hiddenStates) {
        Tensor total = null;
        for (int k = 0; k < layers.length; k++) {
            Tensor features = hiddenStates.get(layers[k]);                                      // (B, N, d)
            Tensor perToken = out[k].forward(hidden[k].forward(features).leakyRelu(0.2));        // (B, N, 1)
            Tensor logit = perToken.mean(new long[] {1, 2}, false);                             // (B,)
            total = total == null ? logit : total.add(logit);
        }
        return total;
    }

    public List<Tensor> parameters() {
        return new ArrayList<>(weights.parameters().values());
    }

    @Override
    public void close() {
        weights.close();
    }
}
