package org.panamasd.training.t2i;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.optim.Optimizer;
import org.panamasd.training.LossCheck;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.training.Ema;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.TrainedParameters;
import org.panamasd.training.lora.TrainableLora;
import org.panamasd.training.distributed.DistributedDataParallel;
import org.panamasd.training.distributed.DistributedSampler;

/**
 * Trains a text-conditioned latent diffusion model from scratch: a small CLIP text encoder and a UNet, jointly,
 * with the v-prediction loss (Salimans and Ho 2022) over a zero-terminal-SNR schedule (Lin et al. 2023), so
 * the last timestep is pure noise and trailing-spacing samplers (and the ADD student) start where training
 * did. Captions are replaced by the empty prompt with probability {@code captionDropout}, which teaches the
 * unconditional prediction that classifier-free guidance needs. EMA copies of both models are kept.
 *
 * <p>The text encoder is trained jointly, through the UNet's cross-attention, rather than contrastively first:
 * the captions name ten classes in a few phrasings, so the diffusion loss alone says which words matter, and
 * one optimiser and one loop are simpler to resume than two stages.
 *
 * <p>{@link #lora} fine-tunes trained models instead, with the same loss, through a LoRA ({@link TrainableLora}):
 * only its matrices train, and their EMA is the adapter a run writes.
 */
public final class TextToImageTrainer implements AutoCloseable {
    /** The checkpoint group of a LoRA run's matrices (and, with {@code _ema}, of their average). */
    public static final String LORA = "lora";

    private final CLIPTokenizer tokenizer;
    private final CLIPTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final TrainableLora lora;
    private final TrainedParameters trained;
    private final Map<String, Map<String, Tensor>> groups = new LinkedHashMap<>();
    private final Map<String, Ema> emas = new LinkedHashMap<>();
    private final NoiseSchedule schedule;
    private final Optimizer optimizer;
    private final LearningRateSchedule learningRate;
    private final double captionDropout;
    private final int maxLength;
    private final List<Tensor> parameters = new ArrayList<>();
    private long step;

    /** Trains both models from scratch, with EMA copies of each. */
    public TextToImageTrainer(CLIPTokenizer tokenizer, DiffusersConfig textConfig, DiffusersConfig unetConfig, NoiseSchedule schedule,
                              LearningRateSchedule learningRate, double captionDropout, double emaDecay, long seed) {
        this(tokenizer, CLIPTextModel.initialize(textConfig, false, seed), UNet2DConditionModel.initialize(unetConfig, seed + 1), null, schedule,
                learningRate, captionDropout, emaDecay);
    }

    /**
     * Fine-tunes trained models through a LoRA of rank {@code rank} on the UNet's attention projections (and the
     * text encoder's, with {@code adaptTextEncoder}), the models frozen; the trainer owns the models from here.
     * The matrices' EMA is what a run writes as its adapter.
     */
    public static TextToImageTrainer lora(CLIPTokenizer tokenizer, CLIPTextModel textEncoder, UNet2DConditionModel unet, int rank, boolean adaptTextEncoder,
                                          NoiseSchedule schedule, LearningRateSchedule learningRate, double captionDropout, double emaDecay, long seed) {
        Map<String, Map<String, Tensor>> adapted = new LinkedHashMap<>();
        adapted.put("unet", unet.parameters());
        if (adaptTextEncoder) adapted.put("text_encoder", textEncoder.parameters());
        else textEncoder.parameters().values().forEach(p -> p.requiresGrad(false));
        TrainableLora lora;
        try {
            lora = TrainableLora.attach(adapted, rank, seed);
        } catch (RuntimeException e) {
            unet.close();
            textEncoder.close();
            throw e;
        }
        return new TextToImageTrainer(tokenizer, textEncoder, unet, lora, schedule, learningRate, captionDropout, emaDecay);
    }

    private TextToImageTrainer(CLIPTokenizer tokenizer, CLIPTextModel textEncoder, UNet2DConditionModel unet, TrainableLora lora, NoiseSchedule schedule,
                               LearningRateSchedule learningRate, double captionDropout, double emaDecay) {
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.lora = lora;
        this.schedule = schedule;
        this.learningRate = learningRate;
        this.captionDropout = captionDropout;
        this.maxLength = textEncoder.config().maxPositions();
        if (lora != null) {
            groups.put(LORA, lora.parameters());
            this.trained = lora;
        } else {
            groups.put("text_encoder", textEncoder.parameters());
            groups.put("unet", unet.parameters());
            this.trained = TrainedParameters.weights(Map.of());  // the models' own weights: nothing to do around a step
        }
        groups.values().forEach(g -> parameters.addAll(g.values()));
        this.optimizer = Optimizer.adamW(parameters, learningRate.at(1), 0.9, 0.999, 1e-8, 0.01, false);
        groups.forEach((name, g) -> emas.put(name, new Ema(g, emaDecay)));
    }

    /** The context of captions: the text encoder's last hidden state (B, 77, hidden). */
    public Tensor encode(String[] captions) {
        return textEncoder.forward(textEncoder.ids(tokenizer.inputIds(captions, maxLength), captions.length)).lastHiddenState();
    }

    /** One step on scaled latents x_0 (B, 4, h, w) and their captions; returns the loss before the step. */
    public double step(Tensor latents, String[] captions, Generator generator) {
        return step(latents, captions, generator, null);
    }

    /**
     * One step of a data-parallel run (or of one process when {@code ddp} is null): {@code latents} and
     * {@code captions} are the global batch, the same on every process. The randomness (caption dropout,
     * timesteps, noise) is drawn for the whole global batch, as one process would, and each process trains on
     * its slice ({@link DistributedSampler}); the gradients are averaged over the processes before clipping.
     * Returns the global batch's loss before the step.
     */
    public double step(Tensor latents, String[] captions, Generator generator, DistributedDataParallel ddp) {
        step++;
        DistributedSampler shard = ddp == null ? DistributedSampler.SINGLE : ddp.sampler();
        try (Scope s = Scope.open()) {
            trained.beforeForward();
            int global = captions.length, from = shard.start(global), batch = shard.localBatch(global);
            float[] drop = Tensor.rand(generator, global).toFloatArray();
            String[] used = new String[batch];
            for (int i = 0; i < batch; i++) used[i] = drop[from + i] < captionDropout ? "" : captions[from + i];
            long[] t = java.util.Arrays.copyOfRange(Tensor.randint(0, schedule.trainTimesteps(), generator, global).toLongArray(), from, from + batch);
            Tensor eps = latents.randnLike(generator).narrow(0, from, batch);
            Tensor x0 = latents.narrow(0, from, batch);
            Tensor noisy = schedule.addNoise(x0, eps, t);
            Tensor v = unet.forward(noisy, Tensor.of(t, batch), encode(used), null, null);
            Tensor loss = Functional.mseLoss(v, schedule.velocity(x0, eps, t), Functional.Reduction.MEAN);
            optimizer.setLearningRate(learningRate.at(step));
            optimizer.zeroGrad();
            loss.backward();
            trained.afterBackward();
            if (ddp != null) ddp.synchronizeGradients();
            LossCheck.gradientNorm(Optimizer.clipGradNorm(parameters, 1.0, 2.0), step);
            optimizer.step();
            for (Ema ema : emas.values()) ema.update(step);
            return ddp == null ? loss.item() : ddp.average(loss.item());
        }
    }

    /** Every trained parameter (text encoder, then UNet; or the LoRA's matrices): what a data-parallel run keeps equal across processes. */
    public List<Tensor> parameters() {
        return java.util.Collections.unmodifiableList(parameters);
    }

    public void setStepCount(long step) {
        this.step = step;
    }

    public CLIPTextModel textEncoder() {
        return textEncoder;
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    /** The LoRA being trained, or null when the models' own weights train. */
    public TrainableLora lora() {
        return lora;
    }

    /** The EMA of a group of trained parameters: {@code text_encoder} and {@code unet}, or {@link #LORA}. */
    public Map<String, Tensor> ema(String group) {
        Ema ema = emas.get(group);
        if (ema == null) throw new IllegalArgumentException("this trainer has no parameter group '" + group + "' (it has " + emas.keySet() + ")");
        return ema.shadow();
    }

    /** Every EMA tensor, which every rank of a data-parallel run must start with equal, like the weights. */
    public List<Tensor> emaTensors() {
        List<Tensor> all = new ArrayList<>();
        emas.values().forEach(e -> all.addAll(e.shadow().values()));
        return all;
    }

    /** What a checkpoint holds, by group name: each trained group, then each group's EMA ({@code <group>_ema}). */
    public Map<String, Map<String, Tensor>> checkpointWeights() {
        Map<String, Map<String, Tensor>> all = new LinkedHashMap<>(groups);
        emas.forEach((name, ema) -> all.put(name + "_ema", ema.shadow()));
        return all;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    @Override
    public void close() {
        emas.values().forEach(Ema::close);
        optimizer.close();
        if (lora != null) lora.close();
        unet.close();
        textEncoder.close();
    }
}
