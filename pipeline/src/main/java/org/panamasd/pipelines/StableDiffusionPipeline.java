package org.panamasd.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.schedulers.Schedulers;

/**
 * Text to image with Stable Diffusion 1.x / 2.x (Rombach et al. 2022), as diffusers' StableDiffusionPipeline:
 * encode the prompt, prepare timesteps, prepare latents, the denoising loop with classifier-free guidance,
 * decode. Loads a diffusers directory (model_index.json, tokenizer/, text_encoder/, unet/, vae/, scheduler/).
 */
public final class StableDiffusionPipeline implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(StableDiffusionPipeline.class.getName());

    private final CLIPTokenizer tokenizer;
    private final int maxLength;
    private final CLIPTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private Scheduler scheduler;

    public StableDiffusionPipeline(CLIPTokenizer tokenizer, int maxLength, CLIPTextModel textEncoder, UNet2DConditionModel unet,
                                   AutoencoderKL vae, Scheduler scheduler) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
    }

    public static StableDiffusionPipeline load(Path directory) {
        return load(directory, null);
    }

    /**
     * As {@link #load(Path)}, with the scheduler class chosen by the caller (null: the config's own) and built
     * from the directory's scheduler config, so a directory naming a class that is not built here still loads.
     */
    public static StableDiffusionPipeline load(Path directory, String schedulerClass) {
        if (!Files.isRegularFile(directory.resolve("model_index.json")))
            throw new IllegalArgumentException(directory + " is not a diffusers pipeline directory (no model_index.json)");
        List<AutoCloseable> loaded = new ArrayList<>();
        try {
            CLIPTokenizer tokenizer = CLIPTokenizer.load(directory.resolve("tokenizer"));
            int maxLength = modelMaxLength(directory.resolve("tokenizer"));
            CLIPTextModel textEncoder = keep(loaded, CLIPTextModel.load(directory.resolve("text_encoder")));
            UNet2DConditionModel unet = keep(loaded, UNet2DConditionModel.load(directory.resolve("unet")));
            AutoencoderKL vae = keep(loaded, AutoencoderKL.load(directory.resolve("vae")));
            Scheduler scheduler = scheduler(DiffusersConfig.read(directory.resolve("scheduler/scheduler_config.json")), schedulerClass);
            return new StableDiffusionPipeline(tokenizer, maxLength, textEncoder, unet, vae, scheduler);
        } catch (RuntimeException e) {
            for (AutoCloseable component : loaded) {
                try {
                    component.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> loaded, T component) {
        loaded.add(component);
        return component;
    }

    private static int modelMaxLength(Path tokenizerDir) {
        Path config = tokenizerDir.resolve("tokenizer_config.json");
        if (!Files.exists(config)) return 77;
        try {
            JsonNode max = new ObjectMapper().readTree(config.toFile()).get("model_max_length");
            return max != null && max.isIntegralNumber() && max.asLong() <= 1024 ? max.asInt() : 77;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + config, e);
        }
    }

    /**
     * A scheduler for this pipeline from a config (className null: the config's _class_name). As the reference
     * pipeline does, a steps_offset other than 1 becomes 1 and clip_sample becomes false, with a warning.
     */
    public static Scheduler scheduler(DiffusersConfig config, String className) {
        if (config.has("steps_offset") && config.integer("steps_offset", 1) != 1) {
            LOG.log(System.Logger.Level.WARNING, "{0}: steps_offset {1} is outdated for Stable Diffusion, using 1",
                    config.source(), config.integer("steps_offset", 1));
            config = config.with("steps_offset", 1);
        }
        if (config.bool("clip_sample", false)) {
            LOG.log(System.Logger.Level.WARNING, "{0}: clip_sample is outdated for Stable Diffusion, using false", config.source());
            config = config.with("clip_sample", false);
        }
        return className == null ? Schedulers.fromConfig(config) : Schedulers.create(className, config);
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    public Scheduler scheduler() {
        return scheduler;
    }

    public void setScheduler(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    public CLIPTokenizer tokenizer() {
        return tokenizer;
    }

    /** The spatial downscaling of the VAE, 2^(number of VAE blocks - 1). */
    public int vaeScaleFactor() {
        return 1 << (vae.config().blockOutChannels().length - 1);
    }

    /** Input checks first, as the reference pipeline does. */
    void checkInputs(GenerationRequest r) {
        if (r.height() % 8 != 0 || r.width() % 8 != 0)
            throw new IllegalArgumentException("height and width must be divisible by 8, got " + r.height() + "x" + r.width());
        if (r.steps() < 1) throw new IllegalArgumentException("steps must be at least 1, got " + r.steps());
        if (r.guidanceRescale() < 0 || r.guidanceRescale() > 1) throw new IllegalArgumentException("guidance rescale must be in [0, 1], got " + r.guidanceRescale());
        if (r.latents() != null) {
            long[] expected = latentShape(r);
            if (!java.util.Arrays.equals(expected, r.latents().shape()))
                throw new IllegalArgumentException("latents have shape " + java.util.Arrays.toString(r.latents().shape()) + ", expected "
                        + java.util.Arrays.toString(expected));
        }
    }

    private long[] latentShape(GenerationRequest r) {
        int f = vaeScaleFactor();
        return new long[] {1, unet.config().inChannels(), r.height() / f, r.width() / f};
    }

    /** last_hidden_state of the text encoder for one prompt: (1, 77, d). */
    public Tensor encodePrompt(String prompt) {
        return encodePrompts(new String[] {prompt});
    }

    /** last_hidden_state of the text encoder for several prompts: (B, 77, d). */
    public Tensor encodePrompts(String[] prompts) {
        long[] ids = new long[prompts.length * maxLength];
        for (int i = 0; i < prompts.length; i++) System.arraycopy(tokenizer.inputIds(prompts[i], maxLength), 0, ids, i * maxLength, maxLength);
        return textEncoder.forward(Tensor.of(ids, prompts.length, maxLength)).lastHiddenState();
    }

    /**
     * Text to image for several prompts in one UNet batch (the request's prompt is not used; its steps, guidance,
     * negative prompt and size are), from unit-noise latents (B, 4, h, w), one row per prompt. A row's result
     * equals a single run of its prompt from its latents, up to the batch's float summation order.
     */
    public GenerationResult generateBatch(String[] prompts, GenerationRequest settings, Tensor unitLatents, NoiseSource noise) {
        checkInputs(settings);
        if (unitLatents.size(0) != prompts.length)
            throw new IllegalArgumentException(prompts.length + " prompts but latents for " + unitLatents.size(0));
        Scope caller = Scope.current();
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            scheduler.setTimesteps(settings.steps());
            Tensor latents = unitLatents.mul(scheduler.initNoiseSigma());
            return denoise(prompts, settings, latents, scheduler.timesteps(), noise, DenoisingListener.NONE, caller);
        }
    }

    public GenerationResult generate(GenerationRequest request) {
        try (Generator generator = new Generator(request.seed())) {
            return generate(request, generator, NoiseSource.of(generator), DenoisingListener.NONE);
        }
    }

    /**
     * Runs a request. Initial latents not given are drawn from {@code generator} (as the reference draws them
     * with its generator); stochastic scheduler steps draw from {@code noise}.
     */
    public GenerationResult generate(GenerationRequest request, Generator generator, NoiseSource noise, DenoisingListener listener) {
        checkInputs(request);
        Scope caller = Scope.current();  // the results are handed to the caller's scope
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            scheduler.setTimesteps(request.steps());
            Tensor latents = request.latents() != null ? request.latents() : Tensor.randn(generator, latentShape(request));
            latents = latents.mul(scheduler.initNoiseSigma());
            return denoise(new String[] {request.prompt()}, request, latents, scheduler.timesteps(), noise, listener, caller);
        }
    }

    /**
     * Image to image (SDEdit, Meng et al. 2022): the image (1, 3, H, W) in [0, 1] is encoded, noised to the
     * timestep that {@code strength} in (0, 1] selects, and denoised over the last round(steps * strength) steps.
     */
    public GenerationResult imageToImage(GenerationRequest request, Tensor image, double strength, Generator generator, NoiseSource noise,
                                         DenoisingListener listener) {
        if (!(strength > 0 && strength <= 1)) throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        long[] shape = image.shape();
        if (shape.length != 4 || shape[1] != 3 || shape[2] != request.height() || shape[3] != request.width())
            throw new IllegalArgumentException("the image has shape " + java.util.Arrays.toString(shape) + ", expected (B, 3, "
                    + request.height() + ", " + request.width() + ")");
        checkInputs(request);
        Scope caller = Scope.current();
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            scheduler.setTimesteps(request.steps());
            double[] all = scheduler.timesteps();
            int kept = Math.min((int) (request.steps() * strength), request.steps());
            if (kept < 1) throw new IllegalArgumentException("strength " + strength + " leaves no denoising step of " + request.steps());
            // the schedule from its (steps - kept)-th step on, counted in model calls per step (Heun makes two)
            double[] timesteps = java.util.Arrays.copyOfRange(all, (request.steps() - kept) * scheduler.order(), all.length);
            Tensor encoded = vae.scaleLatents(vae.encode(image.mul(2).sub(1)).sample(Tensor.randn(generator, latentShape(request))));
            Tensor start = scheduler.addNoise(encoded, Tensor.randn(generator, latentShape(request)), new double[] {timesteps[0]});
            return denoise(new String[] {request.prompt()}, request, start, timesteps, noise, listener, caller);
        }
    }

    /** The reference pipeline's prompt encoding, denoising loop and decoding, from prepared latents. */
    private GenerationResult denoise(String[] prompts, GenerationRequest request, Tensor latents, double[] timesteps, NoiseSource noise,
                                     DenoisingListener listener, Scope caller) {
        Tensor context = encodePrompts(prompts);
        if (ClassifierFreeGuidance.enabled(request.guidanceScale())) {
            String[] negative = new String[prompts.length];
            java.util.Arrays.fill(negative, request.negativePrompt() == null ? "" : request.negativePrompt());
            context = Tensor.cat(0, encodePrompts(negative), context);  // [uncond, cond]
        }
        Tensor finalContext = context;
        Tensor result = DenoisingLoop.run(scheduler, latents, timesteps, request, (input, t) -> unet.forward(input, t, finalContext), noise, listener);
        return DenoisingLoop.decode(vae, result, caller);
    }

    @Override
    public void close() {
        textEncoder.close();
        unet.close();
        vae.close();
        scheduler.close();
    }
}
