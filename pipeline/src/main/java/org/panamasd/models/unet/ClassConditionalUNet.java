package org.panamasd.models.unet;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.nn.RandomWeights;

/**
 * A {@link UNet2DConditionModel} conditioned on a class label instead of a caption: the label selects a row of
 * a learned embedding, which the UNet's cross-attention sees as a one-token context (B, 1, cross_attention_dim).
 * The last row ({@link #nullClass()}) is the "no label" class that classifier-free guidance needs. On disk it is
 * a diffusers {@code unet/} directory (config.json, diffusion_pytorch_model.safetensors) beside
 * {@code class_embedding.safetensors}, so the UNet itself loads with diffusers unchanged.
 */
public final class ClassConditionalUNet implements AutoCloseable {
    public static final String EMBEDDING_KEY = "class_embedding.weight";
    public static final String EMBEDDING_FILE = "class_embedding.safetensors";

    private final DiffusersConfig config;
    private final UNet2DConditionModel unet;
    private final Tensor classEmbedding;
    private final AutoCloseable embeddingOwner;

    private ClassConditionalUNet(DiffusersConfig config, UNet2DConditionModel unet, Tensor classEmbedding, AutoCloseable embeddingOwner) {
        this.config = config;
        this.unet = unet;
        this.classEmbedding = classEmbedding;
        this.embeddingOwner = embeddingOwner;
    }

    /** Fresh weights: the UNet seeded with {@code seed}, the (classes + 1) x cross_attention_dim embedding with seed + 1. */
    public static ClassConditionalUNet initialize(DiffusersConfig config, int classes, long seed) {
        UNet2DConditionModel unet = UNet2DConditionModel.initialize(config, seed);
        RandomWeights weights = new RandomWeights(seed + 1);
        Tensor embedding = weights.get(EMBEDDING_KEY, classes + 1L, unet.config().crossAttentionDim());
        return new ClassConditionalUNet(config, unet, embedding, weights);
    }

    /** Reads what {@link #save} wrote. */
    public static ClassConditionalUNet load(Path directory) {
        DiffusersConfig config = DiffusersConfig.read(directory.resolve("unet/config.json"));
        UNet2DConditionModel unet = UNet2DConditionModel.load(directory.resolve("unet"));
        Scope owner = Scope.detached();
        try (Scope read = Scope.open()) {
            Tensor embedding = SafeTensors.open(directory.resolve(EMBEDDING_FILE)).tensor(EMBEDDING_KEY).to(DType.FLOAT32).copy().moveTo(owner);
            return new ClassConditionalUNet(config, unet, embedding, owner);
        }
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    /** The label meaning "no class" (one past the real classes). */
    public int nullClass() {
        return (int) classEmbedding.size(0) - 1;
    }

    /** The UNet's context for labels (B,): (B, 1, cross_attention_dim). */
    public Tensor context(Tensor labels) {
        return Functional.embedding(classEmbedding, labels).unsqueeze(1);
    }

    /** The UNet's output for sample (B, C, H, W), timesteps (B,) and labels (B,). */
    public Tensor forward(Tensor sample, Tensor timesteps, Tensor labels) {
        return unet.forward(sample, timesteps, context(labels), null, null);
    }

    /** Every trained tensor by key: the UNet's state dict and {@value #EMBEDDING_KEY}. */
    public Map<String, Tensor> parameters() {
        Map<String, Tensor> all = new LinkedHashMap<>(unet.parameters());
        all.put(EMBEDDING_KEY, classEmbedding);
        return all;
    }

    /** Writes these weights. */
    public void save(Path directory) {
        save(directory, parameters());
    }

    /** Writes {@code weights} (keys as {@link #parameters()}, e.g. an EMA's averages) in this model's layout, float32. */
    public void save(Path directory, Map<String, Tensor> weights) {
        Map<String, Tensor> unetWeights = new LinkedHashMap<>(weights);
        Tensor embedding = unetWeights.remove(EMBEDDING_KEY);
        if (embedding == null) throw new IllegalArgumentException("the weights have no '" + EMBEDDING_KEY + "'");
        Map<String, String> metadata = Map.of("format", "pt", "written_by", "panama-sd ClassConditionalUNet");
        ComponentWriter.write(directory.resolve("unet"), "config.json", config.with("_class_name", "UNet2DConditionModel").toJson(),
                "diffusion_pytorch_model.safetensors", unetWeights, DType.FLOAT32, metadata);
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            SafeTensorsWriter.write(Map.of(EMBEDDING_KEY, embedding.detach()), metadata, directory.resolve(EMBEDDING_FILE));
        }
    }

    @Override
    public void close() {
        unet.close();
        try {
            embeddingOwner.close();
        } catch (Exception e) {
            throw new IllegalStateException("cannot free the class embedding", e);
        }
    }
}
