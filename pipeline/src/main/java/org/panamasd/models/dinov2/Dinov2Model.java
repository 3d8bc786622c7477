package org.panamasd.models.dinov2;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.Functional;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.LayerNorm;
import org.panamasd.nn.Checkpoints;
import org.panamasd.nn.ParameterStore;
import org.panamasd.nn.Weights;

/**
 * The DINOv2 ViT backbone (Oquab et al. 2023; transformers' Dinov2Model), the frozen feature network of
 * adversarial diffusion distillation: patch embedding, [CLS] + position embeddings (bicubically
 * interpolated for another patch grid), pre-norm layers with layer scale, final layer norm.
 */
public final class Dinov2Model implements AutoCloseable {
    private final Dinov2Config config;
    private final ParameterStore parameters;
    private final Conv2d patchEmbedding;
    private final Tensor clsToken, maskToken, positionEmbeddings;
    private final Dinov2Layer[] layers;
    private final LayerNorm layernorm;

    /** last_hidden_state, pooler_output (its [CLS] token), and every hidden state before the final norm (embeddings first). */
    public record Output(Tensor lastHiddenState, Tensor pooled, List<Tensor> hiddenStates) {}

    private Dinov2Model(Dinov2Config c, Weights w, ParameterStore parameters) {
        this.config = c;
        this.parameters = parameters;
        int d = c.hiddenSize(), grid = c.imageSize() / c.patchSize();
        this.clsToken = w.get("embeddings.cls_token", 1, 1, d);
        this.maskToken = w.get("embeddings.mask_token", 1, d);  // masked image modelling only; kept so the checkpoint loads whole
        this.positionEmbeddings = w.get("embeddings.position_embeddings", 1, (long) grid * grid + 1, d);
        this.patchEmbedding = new Conv2d(w, "embeddings.patch_embeddings.projection", c.channels(), d, c.patchSize(), c.patchSize(), 0);
        this.layers = new Dinov2Layer[c.layers()];
        for (int i = 0; i < layers.length; i++) layers[i] = new Dinov2Layer(w, "encoder.layer." + i, c);
        this.layernorm = new LayerNorm(w, "layernorm", d, c.layerNormEps());
    }

    /** A transformers model directory: config.json and model.safetensors. */
    public static Dinov2Model load(Path directory) {
        Path weights = Checkpoints.weightsFile(directory, "model.safetensors");
        return load(DiffusersConfig.read(directory.resolve("config.json")), weights);
    }

    public static Dinov2Model load(DiffusersConfig config, Path safetensors) {
        Dinov2Config c = Dinov2Config.from(config);
        return Checkpoints.load(safetensors, state -> new Dinov2Model(c, state, state));
    }

    /** A model with freshly initialised parameters (tests, toy feature networks). */
    public static Dinov2Model initialize(DiffusersConfig config, long seed) {
        Dinov2Config c = Dinov2Config.from(config);
        return Checkpoints.initialize(seed, weights -> new Dinov2Model(c, weights, weights));
    }

    /** Stops gradients into the parameters: a frozen feature network (ADD's F). */
    public Dinov2Model freeze() {
        for (Tensor p : parameters.parameters().values()) p.requiresGrad(false);
        return this;
    }

    /** The parameters by state-dict key (what an optimizer trains and a checkpoint stores). */
    public java.util.Map<String, Tensor> parameters() {
        return parameters.parameters();
    }

    public Dinov2Config config() {
        return config;
    }

    /** pixel_values (B, C, H, W), normalised as the model was trained. */
    public Output forward(Tensor pixels) {
        long batch = pixels.size(0);
        Tensor patches = patchEmbedding.forward(pixels);                    // (B, d, h, w)
        long h = patches.size(2), w = patches.size(3);
        Tensor tokens = patches.flatten(2, 3).transpose(1, 2);              // (B, h*w, d)
        Tensor x = Tensor.cat(1, clsToken.expand(batch, -1, -1), tokens).add(positions(h, w));
        List<Tensor> hidden = new ArrayList<>();
        hidden.add(x);
        for (Dinov2Layer layer : layers) {
            x = layer.forward(x);
            hidden.add(x);
        }
        Tensor last = layernorm.forward(x);
        return new Output(last, last.narrow(1, 0, 1).squeeze(1), List.copyOf(hidden));
    }

    /**
     * Position embeddings for an h x w patch grid: the trained ones, or their patch part resized bicubically
     * (align_corners false) with scale factors ((h + 0.1) / sqrt(N), (w + 0.1) / sqrt(N)), as the reference.
     */
    private Tensor positions(long h, long w) {
        long trained = positionEmbeddings.size(1) - 1;
        if (h * w == trained && h == w) return positionEmbeddings;
        int side = (int) Math.round(Math.sqrt(trained));
        long d = positionEmbeddings.size(2);
        Tensor cls = positionEmbeddings.narrow(1, 0, 1);
        Tensor grid = positionEmbeddings.narrow(1, 1, trained).reshape(1, side, side, d).permute(0, 3, 1, 2);
        Tensor resized = Functional.interpolate(grid, (h + 0.1) / Math.sqrt(trained), (w + 0.1) / Math.sqrt(trained),
                Functional.Interpolation.BICUBIC, false);
        if (resized.size(2) != h || resized.size(3) != w)
            throw new IllegalStateException("interpolated position grid " + resized.size(2) + "x" + resized.size(3) + " != " + h + "x" + w);
        return Tensor.cat(1, cls, resized.permute(0, 2, 3, 1).reshape(1, h * w, d));
    }

    @Override
    public void close() {
        parameters.close();
    }
}
