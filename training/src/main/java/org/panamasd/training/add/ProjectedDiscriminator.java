package org.panamasd.training.add;

import java.util.ArrayList;
import java.util.List;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.RandomWeights;

/**
 * ADD's discriminator: trainable {@link DiscriminatorHead}s on several layers of a frozen feature network
 * (hidden state 0 is the patch embedding), conditioned on a text or class embedding. Its output is every
 * head's per-token logits side by side, (B, sum of tokens): the hinge losses average over them, and R1 is
 * taken on the mean per sample (see {@link AddLosses}).
 */
public final class ProjectedDiscriminator implements AutoCloseable {
    private final RandomWeights weights;
    private final Scope state = Scope.detached();
    private final Generator generator;
    private final int[] layers;
    private final DiscriminatorHead[] heads;
    private final java.util.Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();

    /**
     * @param layers       indices into the feature network's hidden states, e.g. {0, 2, 4, 6} for a 6-layer ViT
     * @param channels     the feature width
     * @param conditionDim the width of the condition embedding
     * @param norm         where the heads normalise ({@link HeadNorm#LOCAL} is StyleGAN-T's)
     */
    public ProjectedDiscriminator(int[] layers, long channels, long conditionDim, long cmapDim, HeadNorm norm, long seed) {
        this.weights = new RandomWeights(seed);
        this.generator = new Generator(seed + 1);
        this.layers = layers.clone();
        this.heads = new DiscriminatorHead[layers.length];
        for (int k = 0; k < layers.length; k++)
            heads[k] = new DiscriminatorHead(weights, "heads." + k, channels, conditionDim, cmapDim, norm, state, generator, buffers);
    }

    /** The head inputs among a feature network's hidden states. */
    public List<Tensor> select(List<Tensor> hiddenStates) {
        List<Tensor> out = new ArrayList<>();
        for (int layer : layers) {
            if (layer >= hiddenStates.size())
                throw new IllegalArgumentException("discriminator layer " + layer + " but the feature network has " + hiddenStates.size() + " hidden states");
            out.add(hiddenStates.get(layer));
        }
        return out;
    }

    /** Per-token logits of every head, (B, sum_k N_k), from the head inputs ({@link #select}). */
    public Tensor logits(List<Tensor> headInputs, Tensor condition, boolean training) {
        Tensor[] parts = new Tensor[heads.length];
        for (int k = 0; k < heads.length; k++) parts[k] = heads[k].forward(headInputs.get(k), condition, training);
        return Tensor.cat(1, parts);
    }

    public List<Tensor> parameters() {
        return new ArrayList<>(weights.parameters().values());
    }

    public java.util.Map<String, Tensor> namedParameters() {
        return weights.parameters();
    }

    /** The spectral norms' singular-vector estimates (not trained; a checkpoint keeps them). */
    public java.util.Map<String, Tensor> buffers() {
        return java.util.Collections.unmodifiableMap(buffers);
    }

    @Override
    public void close() {
        state.close();
        generator.close();
        weights.close();
    }
}
