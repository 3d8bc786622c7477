package org.panamasd.training;

import java.nio.file.Path;
import java.util.ArrayList;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.unet.ClassConditionalUNet;
import org.panamasd.models.unet.UNet2DConditionModel;
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
    private final ClassConditionalUNet model;
    private final NoiseSchedule schedule;
    private final PredictionType target;
    private final Optimizer optimizer;
    private final double labelDropout;

    public DdpmTrainer(DiffusersConfig unetConfig, NoiseSchedule schedule, PredictionType target, int classes, double learningRate,
                       double labelDropout, long seed) {
        if (target == PredictionType.SAMPLE) throw new IllegalArgumentException("train on epsilon or v_prediction");
        this.model = ClassConditionalUNet.initialize(unetConfig, classes, seed);
        this.schedule = schedule;
        this.target = target;
        this.labelDropout = labelDropout;
        this.optimizer = Optimizer.adamW(new ArrayList<>(model.parameters().values()), learningRate, 0.9, 0.999, 1e-8, 0.01, false);
    }

    public UNet2DConditionModel unet() {
        return model.unet();
    }

    /** The UNet's context for class labels (B,): (B, 1, cross_attention_dim); the null class is {@code classes}. */
    public Tensor context(Tensor labels) {
        return model.context(labels);
    }

    public int nullClass() {
        return model.nullClass();
    }

    /** One optimisation step on a batch x_0 (B, C, H, W) with labels (B,); returns the loss before the step. */
    public double step(Tensor x0, Tensor labels, Generator generator) {
        try (Scope step = Scope.open()) {
            long batch = x0.size(0);
            Tensor t = Tensor.randint(0, schedule.trainTimesteps(), generator, batch);
            Tensor eps = x0.randnLike(generator);
            long[] timesteps = t.toLongArray();
            Tensor noisy = schedule.addNoise(x0, eps, timesteps);
            Tensor conditioned = LabelDropout.apply(labels, labelDropout, model.nullClass(), generator);
            Tensor prediction = model.forward(noisy, t, conditioned);
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
        model.save(directory);
    }

    @Override
    public void close() {
        optimizer.close();
        model.close();
    }
}
