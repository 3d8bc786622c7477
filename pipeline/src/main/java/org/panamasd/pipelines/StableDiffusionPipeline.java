package org.panamasd.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
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
import org.panamasd.models.vae.LatentDistribution;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.schedulers.Schedulers;
import org.panamasd.nn.WeightFormat;

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
        return load(directory, schedulerClass, Device.CPU);
    }

    /** As {@link #load(Path, String)}, with the models on {@code device} (a CUDA device needs a CUDA build of libtorch). */
    public static StableDiffusionPipeline load(Path directory, String schedulerClass, Device device) {
        return load(directory, schedulerClass, device, DType.FLOAT32);
    }

    /**
     * As {@link #load(Path, String, Device)}, with the text encoder(s), UNet and VAE computing in {@code dtype}
     * (diffusers' torch_dtype; {@link org.panamasd.nn.Precision} chooses it); latents, schedulers and guidance stay float32.
     */
    public static StableDiffusionPipeline load(Path directory, String schedulerClass, Device device, DType dtype) {
        return load(directory, schedulerClass, device, dtype, WeightFormat.DENSE);
    }

    /**
     * As {@link #load(Path, String, Device, DType)}, with the text encoder's and UNet's linear and convolution weights
     * kept in {@code weights} ({@link WeightFormat}; the VAE's stay dense: its convolutions run by bands, each of
     * which would dequantize the weight again, and they are a tenth of the model).
     */
    public static StableDiffusionPipeline load(Path directory, String schedulerClass, Device device, DType dtype, WeightFormat weights) {
        LoadedComponents.modelIndex(directory);
        try (LoadedComponents c = new LoadedComponents()) {
            CLIPTokenizer tokenizer = CLIPTokenizer.load(directory.resolve("tokenizer"));
            int maxLength = modelMaxLength(directory.resolve("tokenizer"));
            CLIPTextModel textEncoder = c.keep(CLIPTextModel.load(directory.resolve("text_encoder"), device, dtype, weights));
            UNet2DConditionModel unet = c.keep(UNet2DConditionModel.load(directory.resolve("unet"), device, dtype, weights));
            AutoencoderKL vae = c.keep(AutoencoderKL.load(directory.resolve("vae"), device, dtype));
            Scheduler scheduler = scheduler(DiffusersConfig.read(directory.resolve("scheduler/scheduler_config.json")), schedulerClass);
            return c.handOver(new StableDiffusionPipeline(tokenizer, maxLength, textEncoder, unet, vae, scheduler));
        }
    }

    /**
     * A Stable Diffusion 1.x model from one original-layout safetensors file ({@link SingleFileCheckpoint}):
     * the models are built from {@code configs} and filled from the file; {@code tokenizer} is the tokenizer
     * directory (a single file has none); {@code ema} takes the UNet's EMA weights where the file has them.
     */
    public static StableDiffusionPipeline loadSingleFile(Path file, SingleFileCheckpoint.Configs configs, Path tokenizer, String schedulerClass,
                                                         Device device, DType dtype, boolean ema) {
        return loadSingleFile(file, configs, tokenizer, schedulerClass, device, dtype, ema, WeightFormat.DENSE);
    }

    /** As {@link #loadSingleFile(Path, SingleFileCheckpoint.Configs, Path, String, Device, DType, boolean)}, with weights as {@link #load(Path, String, Device, DType, WeightFormat)} keeps them. */
    public static StableDiffusionPipeline loadSingleFile(Path file, SingleFileCheckpoint.Configs configs, Path tokenizer, String schedulerClass,
                                                         Device device, DType dtype, boolean ema, WeightFormat weights) {
        CLIPTokenizer clip = configs.tokenizerPad() == null ? CLIPTokenizer.load(tokenizer) : CLIPTokenizer.load(tokenizer).withPadToken(configs.tokenizerPad());
        if (configs.xl()) throw new IllegalArgumentException(file + ": an SDXL file; StableDiffusionXLPipeline.loadSingleFile loads it");
        SingleFileCheckpoint.Models models = SingleFileCheckpoint.load(file, configs, ema, device, dtype, weights);
        try (LoadedComponents c = LoadedComponents.of(models.textEncoder(), models.unet(), models.vae())) {
            return c.handOver(new StableDiffusionPipeline(clip, modelMaxLength(tokenizer), models.textEncoder(), models.unet(), models.vae(),
                    scheduler(configs.scheduler(), schedulerClass)));
        }
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

    /**
     * The weights a LoRA adapts, by component ({@code unet}, {@code text_encoder}), each by state-dict key
     * ({@link org.panamasd.lora.LoraFusion}).
     */
    public java.util.Map<String, java.util.Map<String, Tensor>> adaptableWeights() {
        return java.util.Map.of("unet", unet.parameters(), "text_encoder", textEncoder.parameters());
    }

    public UNet2DConditionModel unet() {
        return unet;
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

    public CLIPTokenizer tokenizer() {
        return tokenizer;
    }

    /** The token count a prompt is padded or truncated to, start and end tokens included (77 for CLIP). */
    public int promptLength() {
        return maxLength;
    }

    /** The dtype the models compute in (the load's; latents and scheduler are float32 whatever it is). */
    public DType dtype() {
        return unet.dtype();
    }

    /** Where the denoiser is: latents and noise are made there. */
    public Device device() {
        return unet.device();
    }

    /** The spatial downscaling of the VAE, 2^(number of VAE blocks - 1). */
    public int vaeScaleFactor() {
        return vae.config().downscale();
    }

    /** Input checks first, as the reference pipeline does. */
    void checkInputs(GenerationRequest r) {
        if (r.height() % 8 != 0 || r.width() % 8 != 0)
            throw new IllegalArgumentException("height and width must be divisible by 8, got " + r.height() + "x" + r.width());
        checkDenoising(r);
        if (r.latents() != null) {
            long[] expected = latentShape(r);
            if (!java.util.Arrays.equals(expected, r.latents().shape()))
                throw new IllegalArgumentException("latents have shape " + java.util.Arrays.toString(r.latents().shape()) + ", expected "
                        + java.util.Arrays.toString(expected));
        }
    }

    /** The checks of the denoising settings (image to image takes its size from the image). */
    private static void checkDenoising(GenerationRequest r) {
        if (r.steps() < 1) throw new IllegalArgumentException("steps must be at least 1, got " + r.steps());
        if (r.guidanceRescale() < 0 || r.guidanceRescale() > 1) throw new IllegalArgumentException("guidance rescale must be in [0, 1], got " + r.guidanceRescale());
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
        return textEncoder.forward(textEncoder.ids(tokenizer.inputIds(prompts, maxLength), prompts.length)).lastHiddenState();
    }

    /**
     * Text to image for several prompts in one UNet batch (the request's prompt is not used; its steps, guidance,
     * negative prompt and size are), from unit-noise latents (B, 4, h, w), one row per prompt. A row's result
     * equals a single run of its prompt from its latents, up to the batch's float summation order.
     */
    public GenerationResult generateBatch(String[] prompts, GenerationRequest settings, Tensor unitLatents, NoiseSource noise) {
        String[] negatives = new String[prompts.length];
        java.util.Arrays.fill(negatives, settings.negativePrompt());
        return runBatch(prompts, negatives, settings, unitLatents, scheduler, noise, DenoisingListener.NONE, null);
    }

    /** One row of {@link #generateRows}: its prompt, negative prompt (null: empty) and the generator of its seed. */
    public record BatchRow(String prompt, String negativePrompt, Generator generator) {}

    /**
     * Independent requests that share steps, guidance, guidance rescale and size ({@code settings}; its prompt,
     * negative prompt and seed are not used) as one UNet batch, classifier-free guidance halves included. Each
     * row draws its initial latents and then its stochastic steps' noise from its own generator, in the order a
     * single {@link #generate(GenerationRequest)} of it draws them, so a row's image equals that run's up to the
     * batch's float summation order. {@code scheduler} holds this run's state: threads sharing the pipeline's
     * models each bring their own (from {@link #scheduler(DiffusersConfig, String)}).
     */
    public GenerationResult generateRows(java.util.List<BatchRow> rows, GenerationRequest settings, Scheduler scheduler, DenoisingListener listener) {
        return generateRows(rows, settings, scheduler, listener, null);
    }

    /** As {@link #generateRows(java.util.List, GenerationRequest, Scheduler, DenoisingListener)}, every row guided by one ControlNet conditioning (null: none). */
    public GenerationResult generateRows(java.util.List<BatchRow> rows, GenerationRequest settings, Scheduler scheduler, DenoisingListener listener,
                                         ControlNetConditioning control) {
        if (rows.isEmpty()) throw new IllegalArgumentException("a batch needs at least one row");
        checkInputs(settings.withLatents(null));
        String[] prompts = rows.stream().map(BatchRow::prompt).toArray(String[]::new);
        String[] negatives = rows.stream().map(BatchRow::negativePrompt).toArray(String[]::new);
        long[] rowShape = latentShape(settings);
        java.util.List<NoiseSource> noise = rows.stream().map(r -> NoiseSource.of(r.generator())).toList();
        try (Scope drawn = Scope.open()) {
            Tensor[] latents = new Tensor[rows.size()];
            for (int i = 0; i < latents.length; i++) latents[i] = InitialLatents.of(null, rows.get(i).generator(), rowShape, device());
            GenerationResult result = runBatch(prompts, negatives, settings, Tensor.cat(0, latents), scheduler, NoiseSource.perRow(noise), listener, control);
            return new GenerationResult(result.latents().moveToParent(), result.decoded().moveToParent(), result.image().moveToParent());
        }
    }

    private GenerationResult runBatch(String[] prompts, String[] negatives, GenerationRequest settings, Tensor unitLatents, Scheduler scheduler,
                                      NoiseSource noise, DenoisingListener listener, ControlNetConditioning control) {
        checkInputs(settings.withLatents(null));
        if (control != null) control.check(settings.height(), settings.width());
        if (unitLatents.size(0) != prompts.length)
            throw new IllegalArgumentException(prompts.length + " prompts but latents for " + unitLatents.size(0));
        Scope caller = Scope.current();
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            Tensor context = guidedContext(prompts, negatives, settings);
            scheduler.setTimesteps(settings.steps());
            Tensor latents = (unitLatents.device().equals(device()) ? unitLatents : unitLatents.to(device())).mul(scheduler.initNoiseSigma());
            DenoisingLoop.Model model = control == null ? unetModel(context) : controlledModel(context, control);
            Tensor result = DenoisingLoop.run(scheduler, latents, scheduler.timesteps(), settings, model, noise, listener);
            return DenoisingLoop.decode(vae, result, caller);
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
        return generate(request, generator, noise, listener, null);
    }

    /**
     * As {@link #generate(GenerationRequest, Generator, NoiseSource, DenoisingListener)}, guided by a ControlNet
     * (null: none), as diffusers' StableDiffusionControlNetPipeline: at every step the ControlNet sees the UNet's
     * input, timestep and text, and the conditioning image (doubled with guidance), and its scaled residuals are
     * added to the UNet's skip connections and mid-block output.
     */
    public GenerationResult generate(GenerationRequest request, Generator generator, NoiseSource noise, DenoisingListener listener,
                                     ControlNetConditioning control) {
        checkInputs(request);
        if (control != null) control.check(request.height(), request.width());
        Scope caller = Scope.current();  // the results are handed to the caller's scope
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            Tensor context = guidedContext(request);
            scheduler.setTimesteps(request.steps());
            Tensor latents = InitialLatents.of(request.latents(), generator, latentShape(request), device()).mul(scheduler.initNoiseSigma());
            DenoisingLoop.Model model = control == null ? unetModel(context) : controlledModel(context, control);
            Tensor result = DenoisingLoop.run(scheduler, latents, scheduler.timesteps(), request, model, noise, listener);
            return DenoisingLoop.decode(vae, result, caller);
        }
    }

    /** The UNet with the ControlNet's residuals; the conditioning image is repeated for every row of the (guidance-doubled) batch. */
    private DenoisingLoop.Model controlledModel(Tensor context, ControlNetConditioning control) {
        Tensor image = control.image().to(device());
        return (input, t) -> {
            Tensor timesteps = UNet2DConditionModel.timesteps(t, input);
            Tensor conditioning = image.expand(input.size(0), image.size(1), image.size(2), image.size(3));
            UNet2DConditionModel.Residuals residuals = control.model().forward(input, timesteps, context, conditioning, control.scale());
            return unet.forward(input, timesteps, context, null, null, residuals);
        };
    }

    /** As {@link #imageToImage(GenerationRequest, Tensor, double, NoiseSource, NoiseSource, DenoisingListener)}, drawing the image latents' noise from {@code generator}. */
    public GenerationResult imageToImage(GenerationRequest request, Tensor image, double strength, Generator generator, NoiseSource noise,
                                         DenoisingListener listener) {
        return imageToImage(request, image, strength, NoiseSource.of(generator), noise, listener);
    }

    /**
     * Image to image (SDEdit, Meng et al. 2022), as diffusers' StableDiffusionImg2ImgPipeline: the image
     * (B, 3, H, W) in [0, 1] is preprocessed ({@link VaeImageProcessor}; its size, floored to the VAE's factor,
     * is the output's, the request's height and width are not used), encoded, noised to the timestep that
     * {@code strength} in (0, 1] selects ({@link StrengthSchedule}) and denoised from there. The encoder's sample
     * and the forward-process noise are drawn from {@code latentNoise}, in that order, then the scheduler's from
     * {@code schedulerNoise}: one generator behind both draws as the reference's does.
     */
    public GenerationResult imageToImage(GenerationRequest request, Tensor image, double strength, NoiseSource latentNoise, NoiseSource schedulerNoise,
                                         DenoisingListener listener) {
        checkDenoising(request);
        StrengthSchedule.check(request.steps(), strength);
        Scope caller = Scope.current();
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            Tensor context = guidedContext(request);
            Tensor preprocessed = preprocess(image.device().equals(vae.device()) ? image : image.to(vae.device()));
            StrengthSchedule plan = StrengthSchedule.apply(scheduler, request.steps(), strength);
            Tensor start = imageLatents(preprocessed, plan.latentTimestep(), latentNoise).noisy();
            Tensor result = DenoisingLoop.run(scheduler, start, plan.timesteps(), request, unetModel(context), schedulerNoise, listener);
            return DenoisingLoop.decode(vae, result, caller);
        }
    }

    /**
     * Inpainting, as diffusers' StableDiffusionInpaintPipeline: the image (1, 3, H, W) in [0, 1] is repainted where
     * {@code mask} (1, 1, H, W) is at least 0.5, guided by the prompt; the output has the image's size (floored to
     * the VAE's factor) and is the decoding as it is (the kept region is not pasted back). With a 9-channel
     * inpainting UNet the mask and the masked image's latents are appended to every model input; with a
     * 4-channel UNet the latents outside the mask are reset after every step to the image latents noised to the
     * next timestep (the image latents themselves after the last). {@code strength} 1 starts from pure noise,
     * below 1 from the image latents noised as image to image does. {@code latentNoise} gives, in order: the image
     * latents' sample (strength below 1 or a 4-channel UNet only), the start noise and the masked image latents'
     * sample; the scheduler draws from {@code schedulerNoise} (one generator behind both, as the reference's).
     */
    public GenerationResult inpaint(GenerationRequest request, Tensor image, Tensor mask, double strength, NoiseSource latentNoise,
                                    NoiseSource schedulerNoise, DenoisingListener listener) {
        return inpaint(request, image, mask, strength, latentNoise, schedulerNoise, listener, scheduler);
    }

    /** As {@link #inpaint(GenerationRequest, Tensor, Tensor, double, NoiseSource, NoiseSource, DenoisingListener)} with a scheduler of the caller's (threads sharing the models each bring their own). */
    public GenerationResult inpaint(GenerationRequest request, Tensor image, Tensor mask, double strength, NoiseSource latentNoise,
                                    NoiseSource schedulerNoise, DenoisingListener listener, Scheduler scheduler) {
        checkDenoising(request);
        StrengthSchedule.check(request.steps(), strength);
        Scope caller = Scope.current();
        try (var inference = Autograd.inferenceMode(); Scope run = Scope.open()) {
            Tensor context = guidedContext(request);
            StrengthSchedule plan = StrengthSchedule.apply(scheduler, request.steps(), strength);
            InpaintingInputs inputs = prepareInpainting(image, mask, strength, plan, latentNoise, scheduler);
            Tensor result = DenoisingLoop.run(scheduler, inputs.initialLatents(), plan.timesteps(), request, unetModel(context), schedulerNoise, listener,
                    inpaintingHooks(inputs, plan.timesteps(), ClassifierFreeGuidance.enabled(request.guidanceScale()), scheduler));
            return DenoisingLoop.decode(vae, result, caller);
        }
    }

    /**
     * Everything inpainting starts from ({@link InpaintingInputs}), after {@code plan} set the scheduler's
     * timesteps; draws from {@code noise} as {@link #inpaint} says.
     */
    public InpaintingInputs prepareInpainting(Tensor image, Tensor mask, double strength, StrengthSchedule plan, NoiseSource noise) {
        return prepareInpainting(image, mask, strength, plan, noise, scheduler);
    }

    private InpaintingInputs prepareInpainting(Tensor image, Tensor mask, double strength, StrengthSchedule plan, NoiseSource noise, Scheduler scheduler) {
        int channels = unet.config().inChannels();
        if (channels != 9 && channels != 4)
            throw new IllegalArgumentException("inpainting needs a 9-channel inpainting UNet (latents, mask, masked image latents) or a 4-channel one; "
                    + "this UNet takes " + channels + " channels");
        if (image.shape().length != 4 || image.size(0) != 1)
            throw new IllegalArgumentException("inpainting takes one image (1, 3, H, W), got " + java.util.Arrays.toString(image.shape()));
        Tensor preprocessed = preprocess(image.device().equals(vae.device()) ? image : image.to(vae.device()));
        Tensor maskCondition = InpaintingInputs.maskCondition(mask.device().equals(vae.device()) ? mask : mask.to(vae.device()), image.shape(),
                vaeScaleFactor());
        Tensor maskedImage = InpaintingInputs.maskedImage(preprocessed, maskCondition);
        boolean fromNoise = strength == 1.0;  // the reference's is_strength_max: an exact comparison
        Tensor imageLatents = !fromNoise || channels == 4 ? sampledLatents(preprocessed, noise) : null;
        int f = vaeScaleFactor();
        long[] shape = {1, 4, preprocessed.size(2) / f, preprocessed.size(3) / f};
        Tensor startNoise = noise.next(shape, DType.FLOAT32, device());
        Tensor initial = fromNoise ? startNoise.mul(scheduler.initNoiseSigma())
                : scheduler.addNoise(imageLatents, startNoise, new double[] {plan.latentTimestep()});
        Tensor maskLatents = InpaintingInputs.maskLatents(maskCondition, shape[2], shape[3]);
        Tensor maskedImageLatents = sampledLatents(maskedImage, noise);
        return new InpaintingInputs(maskCondition, maskedImage, imageLatents, maskLatents, maskedImageLatents, startNoise, initial);
    }

    /** A sample of q(z | x) drawn from {@code noise}, scaled (the reference samples; it does not take the mean). */
    private Tensor sampledLatents(Tensor preprocessed, NoiseSource noise) {
        LatentDistribution q = encodeImage(preprocessed);
        Tensor mean = q.mean();
        return vae.scaleLatents(q.sample(noise.next(mean.shape(), mean.dtype(), mean.device())));
    }

    private DenoisingLoop.StepHooks inpaintingHooks(InpaintingInputs inputs, double[] timesteps, boolean guidance, Scheduler scheduler) {
        if (unet.config().inChannels() == 9) {
            Tensor mask = guidance ? Tensor.cat(0, inputs.maskLatents(), inputs.maskLatents()) : inputs.maskLatents();
            Tensor masked = guidance ? Tensor.cat(0, inputs.maskedImageLatents(), inputs.maskedImageLatents()) : inputs.maskedImageLatents();
            return new DenoisingLoop.StepHooks() {
                @Override
                public Tensor modelInput(Tensor scaled) {
                    return Tensor.cat(1, scaled, mask.to(scaled.dtype()), masked.to(scaled.dtype()));  // only the latents were scaled
                }
            };
        }
        Tensor keep = inputs.maskLatents().rsub(1);
        return new DenoisingLoop.StepHooks() {
            @Override
            public Tensor afterStep(int index, Tensor latents) {
                Tensor image = index < timesteps.length - 1
                        ? scheduler.addNoise(inputs.imageLatents(), inputs.startNoise(), new double[] {timesteps[index + 1]})
                        : inputs.imageLatents();
                return keep.mul(image).add(inputs.maskLatents().mul(latents));
            }
        };
    }

    /** An image in [0, 1] (or [-1, 1]) as the VAE encoder takes it. */
    public Tensor preprocess(Tensor image) {
        return VaeImageProcessor.preprocess(image, vaeScaleFactor());
    }

    /** The VAE's q(z | x) of a preprocessed image. */
    public LatentDistribution encodeImage(Tensor preprocessed) {
        return vae.encode(preprocessed);
    }

    /** The image's scaled latents (a sample of q(z | x)) and the same noised to {@code timestep}: where image to image starts. */
    public record ImageLatents(Tensor encoded, Tensor noisy) {}

    /**
     * Encodes, samples with the first draw of {@code noise} and scales (the reference takes a sample, not the
     * mean), then noises to {@code timestep} with the second draw, without init_noise_sigma (text to image only).
     */
    public ImageLatents imageLatents(Tensor preprocessed, double timestep, NoiseSource noise) {
        Tensor encoded = sampledLatents(preprocessed, noise);
        Tensor noisy = scheduler.addNoise(encoded, noise.next(encoded.shape(), encoded.dtype(), encoded.device()), new double[] {timestep});
        return new ImageLatents(encoded, noisy);
    }

    /** The prompt's context, behind the negative prompt's when guidance is on ([uncond, cond]). */
    private Tensor guidedContext(GenerationRequest request) {
        return guidedContext(new String[] {request.prompt()}, new String[] {request.negativePrompt()}, request);
    }

    /** The prompts' contexts, behind their negative prompts' (null: empty) when guidance is on ([uncond..., cond...]). */
    private Tensor guidedContext(String[] prompts, String[] negatives, GenerationRequest request) {
        Tensor context = encodePrompts(prompts);
        if (!ClassifierFreeGuidance.enabled(request.guidanceScale())) return context;
        String[] negative = java.util.Arrays.stream(negatives).map(n -> n == null ? "" : n).toArray(String[]::new);
        return Tensor.cat(0, encodePrompts(negative), context);
    }

    private DenoisingLoop.Model unetModel(Tensor context) {
        return (input, t) -> unet.forward(input, t, context);
    }

    @Override
    public void close() {
        textEncoder.close();
        unet.close();
        vae.close();
        scheduler.close();
    }
}
