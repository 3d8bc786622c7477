package org.panamasd.training;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.nn.RandomWeights;
import org.panamasd.optim.Optimizer;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.PredictionType;

/**
 * Trains a class-conditional denoiser with DDPM's simple loss (Ho et al. 2020, Algorithm 1): draw t uniformly,
 * eps ~ N(0, I), x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps (design notes, eq. 9), and regress the model's
 * prediction on eps (or on v) with the mean squared error. The class label is the UNet's one-token context,
 * from a learned embedding; with probability {@code labelDropout} it is replaced by the null class, so the
 * model also learns the unconditional score that classifier-free guidance needs.
 */
public final class DdpmTrainer implements AutoCloseable {
    /** The null class for classifier-free guidance: one row past the real classes. */
    private final int nullClass;
    private final UNet2DConditionModel unet;
    private final RandomWeights embeddingWeights;
    private final Tensor classEmbedding;
    private final NoiseSchedule schedule;
    private final PredictionType target;
    private final Optimizer optimizer;
    private final double labelDropout;
    private final DiffusersConfig unetConfig;

    public DdpmTrainer(DiffusersConfig unetConfig, NoiseSchedule schedule, PredictionType target, int classes, double learningRate,
                       double labelDropout, long seed) {
        if (target == PredictionType.SAMPLE) throw new IllegalArgumentException("train on epsilon or v_prediction");
        this.unetConfig = unetConfig;
        this.unet = UNet2DConditionModel.initialize(unetConfig, seed);
        this.embeddingWeights = new RandomWeights(seed + 1);
        this.nullClass = classes;
        this.classEmbedding = embeddingWeights.get("class_embedding.weight", classes + 1L, unet.config().crossAttentionDim());
        this.schedule = schedule;
        this.target = target;
        this.labelDropout = labelDropout;
        List<Tensor> parameters = new ArrayList<>(unet.parameters().values());
        parameters.add(classEmbedding);
        this.optimizer = Optimizer.adamW(parameters, learningRate, 0.9, 0.999, 1e-8, 0.01, false);
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    /** The UNet's context for class labels (B,): (B, 1, cross_attention_dim); the null class is {@code classes}. */
    public Tensor context(Tensor labels) {
        return Functional.embedding(classEmbedding, labels).unsqueeze(1);
    }

    public int nullClass() {
        return nullClass;
    }

    /** One optimisation step on a batch x_0 (B, C, H, W) with labels (B,); returns the loss before the step. */
    public double step(Tensor x0, Tensor labels, Generator generator) {
        try (Scope step = Scope.open()) {
            long batch = x0.size(0);
            Tensor t = Tensor.randint(0, schedule.trainTimesteps(), generator, batch);
            Tensor eps = x0.randnLike(generator);
            long[] timesteps = t.toLongArray();
            Tensor noisy = schedule.addNoise(x0, eps, timesteps);
            Tensor dropped = Tensor.rand(generator, batch).lt(labelDropout);
            Tensor conditioned = Tensor.where(dropped, Tensor.full(nullClass, org.panamasd.DType.INT64, org.panamasd.Device.CPU, batch), labels);
            Tensor prediction = unet.forward(noisy, t, context(conditioned), null, null);
            Tensor goal = target == PredictionType.EPSILON ? eps : schedule.velocity(x0, eps, timesteps);
            Tensor loss = Functional.mseLoss(prediction, goal, Functional.Reduction.MEAN);
            optimizer.zeroGrad();
            loss.backward();
            optimizer.step();
            return loss.item();
        }
    }

    /**
     * Writes the model in diffusers' layout: {@code unet/config.json} and
     * {@code unet/diffusion_pytorch_model.safetensors}, plus {@code class_embedding.safetensors}; each file is
     * written aside and moved into place.
     */
    public void save(Path directory) {
        try {
            Files.createDirectories(directory.resolve("unet"));
            Path config = directory.resolve("unet/config.json");
            Path temporary = Files.createTempFile(directory.resolve("unet"), "config", ".tmp");
            Files.writeString(temporary, unetConfig.with("_class_name", "UNet2DConditionModel").toJson());
            Files.move(temporary, config, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + directory, e);
        }
        Map<String, String> metadata = Map.of("format", "pt", "written_by", "panama-sd DdpmTrainer");
        SafeTensorsWriter.write(unet.parameters(), metadata, directory.resolve("unet/diffusion_pytorch_model.safetensors"));
        Map<String, Tensor> embedding = new LinkedHashMap<>();
        embedding.put("class_embedding.weight", classEmbedding);
        SafeTensorsWriter.write(embedding, metadata, directory.resolve("class_embedding.safetensors"));
    }

    @Override
    public void close() {
        optimizer.close();
        unet.close();
        embeddingWeights.close();
    }
}
