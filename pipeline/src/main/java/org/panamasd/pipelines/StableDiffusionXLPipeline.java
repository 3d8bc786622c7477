package org.panamasd.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.singlefile.SingleFileCheckpoint;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.schedulers.Schedulers;
import org.panamasd.nn.WeightFormat;

/**
 * Text to image with Stable Diffusion XL (Podell et al. 2023), and with SDXL-Turbo (guidance 0, one to four
 * steps), as diffusers' StableDiffusionXLPipeline: the context is the penultimate hidden states of both text
 * encoders side by side, the second encoder's projected pooled output and the six size / crop conditions go
 * to the UNet's added embedding, and an unset negative prompt is all zeros when the model says so
 * (force_zeros_for_empty_prompt).
 */
public final class StableDiffusionXLPipeline implements AutoCloseable {
    private final CLIPTokenizer tokenizer, tokenizer2;
    private final CLIPTextModel textEncoder, textEncoder2;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final boolean zerosForEmptyNegative;
    private Scheduler scheduler;

    public StableDiffusionXLPipeline(CLIPTokenizer tokenizer, CLIPTokenizer tokenizer2, CLIPTextModel textEncoder, CLIPTextModel textEncoder2,
                                     UNet2DConditionModel unet, AutoencoderKL vae, Scheduler scheduler, boolean zerosForEmptyNegative) {
        if (!"text_time".equals(unet.config().additionEmbedType()))
            throw new IllegalArgumentException("an SDXL pipeline needs a UNet with addition_embed_type text_time");
        // the added embedding takes the pooled projection and six sinusoidal size / crop embeddings
        int expected = 6 * unet.config().additionTimeEmbedDim() + textEncoder2.config().projectionDim();
        if (expected != unet.config().projectionClassEmbeddingsInputDim())
            throw new IllegalArgumentException("the UNet's projection_class_embeddings_input_dim is " + unet.config().projectionClassEmbeddingsInputDim()
                    + ", but 6 * addition_time_embed_dim + text_encoder_2's projection_dim is " + expected);
        this.tokenizer = tokenizer;
        this.tokenizer2 = tokenizer2;
        this.textEncoder = textEncoder;
        this.textEncoder2 = textEncoder2.componentName("text_encoder_2");
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        this.zerosForEmptyNegative = zerosForEmptyNegative;
    }

    /** A diffusers SDXL directory: tokenizer, tokenizer_2, text_encoder, text_encoder_2, unet, vae, scheduler. */
    public static StableDiffusionXLPipeline load(Path directory) {
        return load(directory, null);
    }

    /** As {@link #load(Path)}, with the scheduler class chosen by the caller (null: the config's own). */
    public static StableDiffusionXLPipeline load(Path directory, String schedulerClass) {
        return load(directory, schedulerClass, Device.CPU);
    }

    /** As {@link #load(Path, String)}, with the models on {@code device} (a CUDA device needs a CUDA build of libtorch). */
    public static StableDiffusionXLPipeline load(Path directory, String schedulerClass, Device device) {
        return load(directory, schedulerClass, device, DType.FLOAT32);
    }

    /**
     * As {@link #load(Path, String, Device)}, with the text encoder(s), UNet and VAE computing in {@code dtype}
     * (diffusers' torch_dtype; {@link org.panamasd.nn.Precision} chooses it); latents, schedulers and guidance stay float32.
     */
    public static StableDiffusionXLPipeline load(Path directory, String schedulerClass, Device device, DType dtype) {
        return load(directory, schedulerClass, device, dtype, WeightFormat.DENSE);
    }

    /** As {@link #load(Path, String, Device, DType)}, with the text encoders' and UNet's linear and convolution weights in {@code weights} (the VAE's dense, as {@link StableDiffusionPipeline#load(Path, String, Device, DType, WeightFormat)}). */
    public static StableDiffusionXLPipeline load(Path directory, String schedulerClass, Device device, DType dtype, WeightFormat weights) {
        Path index = LoadedComponents.modelIndex(directory);
        JsonNode model;
        try {
            model = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + index, e);
        }
        try (LoadedComponents c = new LoadedComponents()) {
            CLIPTextModel te = c.keep(CLIPTextModel.load(directory.resolve("text_encoder"), device, dtype, weights));
            CLIPTextModel te2 = c.keep(CLIPTextModel.load(directory.resolve("text_encoder_2"), device, dtype, weights));
            UNet2DConditionModel unet = c.keep(UNet2DConditionModel.load(directory.resolve("unet"), device, dtype, weights));
            AutoencoderKL vae = c.keep(AutoencoderKL.load(directory.resolve("vae"), device, dtype));
            // as the reference, SDXL takes the scheduler config as it is (no SD 1.x steps_offset / clip_sample rewrite)
            DiffusersConfig schedulerConfig = DiffusersConfig.read(directory.resolve("scheduler/scheduler_config.json"));
            Scheduler scheduler = schedulerClass == null ? Schedulers.fromConfig(schedulerConfig) : Schedulers.create(schedulerClass, schedulerConfig);
            return c.handOver(new StableDiffusionXLPipeline(CLIPTokenizer.load(directory.resolve("tokenizer")), CLIPTokenizer.load(directory.resolve("tokenizer_2")),
                    te, te2, unet, vae, scheduler, model.path("force_zeros_for_empty_prompt").asBoolean(true)));
        }
    }

    /**
     * An SDXL model from one original-layout file ({@link SingleFileCheckpoint}), built from {@code configs}; the
     * tokenizers from {@code tokenizer} (the first) and {@code tokenizer2}, or, where that is null, the first's
     * vocabulary padding with "!" as stable-diffusion-xl-base-1.0's second tokenizer does. Empty negative prompts
     * are zeros, as that model's {@code force_zeros_for_empty_prompt}.
     */
    public static StableDiffusionXLPipeline loadSingleFile(Path file, SingleFileCheckpoint.Configs configs, Path tokenizer, Path tokenizer2,
                                                           String schedulerClass, Device device, DType dtype, boolean ema) {
        return loadSingleFile(file, configs, tokenizer, tokenizer2, schedulerClass, device, dtype, ema, WeightFormat.DENSE);
    }

    /** As {@link #loadSingleFile(Path, SingleFileCheckpoint.Configs, Path, Path, String, Device, DType, boolean)}, with linear and convolution weights in {@code weights}. */
    public static StableDiffusionXLPipeline loadSingleFile(Path file, SingleFileCheckpoint.Configs configs, Path tokenizer, Path tokenizer2,
                                                           String schedulerClass, Device device, DType dtype, boolean ema, WeightFormat weights) {
        if (!configs.xl()) throw new IllegalArgumentException(file + ": configs with one text encoder are not SDXL's");
        CLIPTokenizer first = CLIPTokenizer.load(tokenizer), second = tokenizer2 != null ? CLIPTokenizer.load(tokenizer2) : first.withPadToken("!");
        Scheduler scheduler = schedulerClass == null ? Schedulers.fromConfig(configs.scheduler()) : Schedulers.create(schedulerClass, configs.scheduler());
        SingleFileCheckpoint.Models models = SingleFileCheckpoint.load(file, configs, ema, device, dtype, weights);
        try (LoadedComponents c = LoadedComponents.of(models.textEncoder(), models.textEncoder2(), models.unet(), models.vae())) {
            return c.handOver(new StableDiffusionXLPipeline(first, second, models.textEncoder(), models.textEncoder2(), models.unet(), models.vae(), scheduler, true));
        }
    }

    /** The dtype the models compute in (the load's; latents and scheduler are float32 whatever it is). */
    public DType dtype() {
        return unet.dtype();
    }

    /**
     * The weights a LoRA adapts, by component ({@code unet}, {@code text_encoder}, {@code text_encoder_2}), each by
     * state-dict key ({@link org.panamasd.lora.LoraFusion}).
     */
    public java.util.Map<String, java.util.Map<String, Tensor>> adaptableWeights() {
        return java.util.Map.of("unet", unet.parameters(), "text_encoder", textEncoder.parameters(), "text_encoder_2", textEncoder2.parameters());
    }

    public Scheduler scheduler() {
        return scheduler;
    }

    /** The autoencoder, e.g. to set how it tiles ({@code pipe.vae().tiling(...)}, diffusers' {@code pipe.vae.enable_tiling()}). */
    public AutoencoderKL vae() {
        return vae;
    }

    public void setScheduler(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    public int vaeScaleFactor() {
        return vae.config().downscale();
    }

    /** The prompt's context (1, 77, d1 + d2) and pooled embedding (1, projection_dim). */
    public record PromptEmbeddings(Tensor context, Tensor pooled) {}

    public PromptEmbeddings encodePrompt(String prompt) {
        CLIPTextModel.Output first = textEncoder.forward(textEncoder.ids(tokenizer.inputIds(prompt, 77)));
        CLIPTextModel.Output second = textEncoder2.forward(textEncoder2.ids(tokenizer2.inputIds(prompt, 77)));
        List<Tensor> h1 = first.hiddenStates(), h2 = second.hiddenStates();
        Tensor context = Tensor.cat(-1, h1.get(h1.size() - 2), h2.get(h2.size() - 2));  // penultimate layers, no final norm
        Tensor pooled = second.textEmbeds() != null ? second.textEmbeds() : second.pooled();
        return new PromptEmbeddings(context, pooled);
    }

    public GenerationResult generate(GenerationRequest request) {
        try (Generator generator = new Generator(request.seed())) {
            return generate(request, generator, NoiseSource.of(generator), DenoisingListener.NONE);
        }
    }

    public GenerationResult generate(GenerationRequest r, Generator generator, NoiseSource noise, DenoisingListener listener) {
        return generate(r, SizeConditions.DEFAULT, generator, noise, listener);
    }

    /**
     * Runs a request with the given size conditions. Initial latents not given are drawn from {@code generator};
     * stochastic scheduler steps draw from {@code noise}.
     */
    public GenerationResult generate(GenerationRequest r, SizeConditions sizes, Generator generator, NoiseSource noise, DenoisingListener listener) {
        if (r.height() % 8 != 0 || r.width() % 8 != 0)
            throw new IllegalArgumentException("height and width must be divisible by 8, got " + r.height() + "x" + r.width());
        if (r.steps() < 1) throw new IllegalArgumentException("steps must be at least 1, got " + r.steps());
        Scope caller = Scope.current();
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            Conditioning c = conditioning(r, sizes);
            scheduler.setTimesteps(r.steps());
            int f = vaeScaleFactor();
            long[] shape = {1, unet.config().inChannels(), r.height() / f, r.width() / f};
            Tensor latents = InitialLatents.of(r.latents(), generator, shape, unet.device()).mul(scheduler.initNoiseSigma());
            Tensor result = DenoisingLoop.run(scheduler, latents, scheduler.timesteps(), r, (input, t) -> unet.forward(input,
                    UNet2DConditionModel.timesteps(t, input), c.context(), c.pooled(), c.timeIds()), noise, listener);
            return DenoisingLoop.decode(vae, result, caller);
        }
    }

    /** What the UNet receives besides the latents, [negative, positive] with guidance: the context, the pooled embedding and the time ids. */
    public record Conditioning(Tensor context, Tensor pooled, Tensor timeIds) {}

    /**
     * The prompt's conditioning; with guidance the negative prompt's comes first: zeros when none is given and
     * the model says so (force_zeros_for_empty_prompt), else its encoding ("" when none). Both halves get the
     * same time ids.
     */
    public Conditioning conditioning(GenerationRequest r, SizeConditions sizes) {
        PromptEmbeddings positive = encodePrompt(r.prompt());
        Tensor context = positive.context(), pooled = positive.pooled();
        Tensor timeIds = Tensor.of(sizes.timeIds(r.height(), r.width()), 1, 6).to(context.device());
        if (!ClassifierFreeGuidance.enabled(r.guidanceScale())) return new Conditioning(context, pooled, timeIds);
        PromptEmbeddings negative = r.negativePrompt() == null && zerosForEmptyNegative
                ? new PromptEmbeddings(Tensor.zeros(context.dtype(), context.device(), context.shape()), Tensor.zeros(pooled.dtype(), pooled.device(), pooled.shape()))
                : encodePrompt(r.negativePrompt() == null ? "" : r.negativePrompt());
        return new Conditioning(Tensor.cat(0, negative.context(), context), Tensor.cat(0, negative.pooled(), pooled), Tensor.cat(0, timeIds, timeIds));
    }

    public CLIPTokenizer tokenizer() {
        return tokenizer;
    }

    public CLIPTokenizer tokenizer2() {
        return tokenizer2;
    }

    @Override
    public void close() {
        textEncoder.close();
        textEncoder2.close();
        unet.close();
        vae.close();
        scheduler.close();
    }
}
