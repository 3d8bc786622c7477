package org.panamasd.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.io.ImageFiles;
import org.panamasd.io.ImageGrid;
import org.panamasd.lora.LoraFusion;
import org.panamasd.models.controlnet.ControlNetModel;
import org.panamasd.pipelines.ControlNetConditioning;
import org.panamasd.pipelines.ModelSource;
import org.panamasd.models.vae.VaeTiling;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StrengthSchedule;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.nn.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Text to image (or image to image) from a diffusers Stable Diffusion directory, by default the shipped
 * Fashion-MNIST Turbo student. Steps, guidance, size and upscaling default to the directory's panama-sd.json,
 * else 30, 7.5 (5 for SDXL) and 512 (1024 for SDXL). The PNG carries the settings as text chunks
 * ({@link ImageParameters}); {@code --batch N} draws N images with seeds seed..seed+N-1 into one grid.
 */
@Command(name = "generate", sortOptions = false, description = {
        "Text to image (or image to image with --image) from a diffusers SD 1.x / 2.x / SDXL directory.",
        "Without --model: models/fashion-turbo, a 1-step Turbo student of the ten Fashion-MNIST classes.",
        "Unset steps, guidance, size and upscale come from the model's panama-sd.json, else 30, 7.5 (SDXL 5), 512 (SDXL 1024), 1.",
        "The PNG carries prompt, negative prompt, seed, steps, guidance, scheduler and model as text chunks (see 'inspect')."})
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "What to draw.")
    String prompt;
    @Mixin
    ModelOptions model;
    @Option(names = "--negative", paramLabel = "TEXT", description = "The negative prompt (used when guidance > 1).")
    String negative;
    @Option(names = "--steps", paramLabel = "N", description = "Denoising steps.")
    Integer steps;
    @Option(names = "--guidance", paramLabel = "G", description = "Classifier-free guidance scale; 1 or less turns it off.")
    Double guidance;
    @Option(names = "--rescale", paramLabel = "PHI", defaultValue = "0", description = "Guidance rescale in [0, 1] (default: ${DEFAULT-VALUE}).")
    double rescale;
    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the first image (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--height", paramLabel = "H", description = "Image height in pixels, a multiple of 8.")
    Integer height;
    @Option(names = "--width", paramLabel = "W", description = "Image width in pixels, a multiple of 8.")
    Integer width;
    @Option(names = "--upscale", paramLabel = "K", description = "Nearest-neighbour enlargement of the PNG, 1..64.")
    Integer upscale;
    @Option(names = "--scheduler", paramLabel = "CLASS", description = "A scheduler class, e.g. EulerAncestralDiscreteScheduler (default: the model's).")
    String scheduler;
    @Option(names = "--image", paramLabel = "FILE", description = "Start from this image (image to image, SD 1.x / 2.x).")
    Path image;
    @Option(names = "--mask", paramLabel = "FILE", description = {"With --image: inpaint, repainting where the mask is light (grey >= 50 %%) and keeping the rest",
            "(an inpainting UNet with 9 input channels, or any SD 1.x / 2.x UNet by blending after every step)."})
    Path mask;
    @Option(names = "--lora", paramLabel = "FILE[:SCALE]", description = {"A LoRA adapter (.safetensors, kohya/A1111 or diffusers layout) fused into the",
            "UNet and text encoder(s) at SCALE (default 1) for this run; repeatable."})
    List<String> loras = new ArrayList<>();
    @Option(names = "--controlnet", paramLabel = "DIR", description = "A diffusers ControlNet directory guiding the generation (SD 1.x / 2.x text to image).")
    Path controlnet;
    @Option(names = "--control-image", paramLabel = "FILE", description = "With --controlnet: the conditioning image (edges, depth, pose...), at the generated size.")
    Path controlImage;
    @Option(names = "--control-scale", paramLabel = "S", description = "With --controlnet: the scale of its residuals (default: 1).")
    Double controlScale;
    @Option(names = "--strength", paramLabel = "S", description = "With --image: how much of the schedule to run, in (0, 1] (default: 0.75; 1 with --mask).")
    Double strength;
    @Option(names = "--batch", paramLabel = "N", defaultValue = "1", description = "Images to draw (seeds seed..seed+N-1), written as one grid (default: ${DEFAULT-VALUE}).")
    int batch;
    @Mixin
    PrecisionOption precision;
    @Mixin
    WeightsOption weights;
    @Mixin
    VaeTilingOptions vaeTiling;
    @Option(names = "--out", paramLabel = "FILE.png", defaultValue = "image.png", description = "Where to write the PNG (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    public Integer call() {
        Path dir = model.path();
        ModelSource source = model.source();
        if (batch < 1 || batch > 256) throw new IllegalArgumentException("--batch must be in 1..256, got " + batch);
        if (image != null && !Files.isRegularFile(image)) throw new IllegalArgumentException("--image: no file " + image);
        if (image == null && strength != null)
            throw new IllegalArgumentException("--strength applies to image to image and inpainting only: give --image FILE too");
        if (mask != null && image == null) throw new IllegalArgumentException("--mask needs the image it masks: give --image FILE too");
        if (mask != null && !Files.isRegularFile(mask)) throw new IllegalArgumentException("--mask: no file " + mask);
        double strength = this.strength != null ? this.strength : mask != null ? 1.0 : 0.75;
        if ((controlImage != null || controlScale != null) && controlnet == null)
            throw new IllegalArgumentException("--control-image and --control-scale go with --controlnet DIR");
        if (controlnet != null && controlImage == null) throw new IllegalArgumentException("--controlnet needs its conditioning image: give --control-image FILE");
        if (controlnet != null && image != null)
            throw new IllegalArgumentException("--controlnet guides text to image; with --image (image to image, inpainting) it is not built yet");
        if (controlImage != null && !Files.isRegularFile(controlImage)) throw new IllegalArgumentException("--control-image: no file " + controlImage);
        boolean xl = source.xl();
        GenerationDefaults d = GenerationDefaults.of(model.config != null ? model.config : dir, 30, xl ? 5.0 : 7.5, xl ? 1024 : 512);  // a single file: its config directory's
        int n = steps != null ? steps : d.steps(), scale = upscale != null ? upscale : d.upscale();
        if (n < 1) throw new IllegalArgumentException("--steps must be at least 1, got " + n);
        if (scale < 1 || scale > 64) throw new IllegalArgumentException("--upscale must be in 1..64, got " + scale);
        GenerationRequest request = new GenerationRequest(prompt, negative, n, guidance != null ? guidance : d.guidance(), rescale,
                height != null ? height : d.height(), width != null ? width : d.width(), seed, null);
        DType compute = precision.resolve(Precision.AUTO);
        VaeTiling.Mode tilingMode = vaeTiling.mode();
        PrintWriter log = spec.commandLine().getOut();
        long start = System.nanoTime();
        try (Scope scope = Scope.open(); ModelPipeline pipe = ModelPipeline.load(source, scheduler, compute, weights.format())) {
            pipe.vae().tiling(VaeTiling.forConfig(pipe.vae().config(), tilingMode, vaeTiling.tile));
            try (LoraFiles adapters = LoraFiles.open(loras); LoraFusion.FusedLora fused = LoraFusion.fuse(pipe.adaptableWeights(), adapters.scaled());
                 ControlNetModel controlModel = controlnet == null ? null : ControlNetModel.load(controlnet, org.panamasd.Device.CPU, compute)) {
                ControlNetConditioning control = controlModel == null ? null : conditioning(controlModel, request);
                generate(pipe, request, n, scale, strength, control, compute, dir, log, start);
            }
        }
        return 0;
    }

    /** The conditioning image read and checked against the ControlNet and the request, naming the file when it does not fit. */
    private ControlNetConditioning conditioning(ControlNetModel model, GenerationRequest request) {
        Tensor picture = ImageFiles.readRgb(controlImage);
        if (model.conditioningChannels() != 3)
            throw new IllegalArgumentException("--controlnet " + controlnet + " takes " + model.conditioningChannels() + " conditioning channels; --control-image "
                    + controlImage + " is an RGB image");
        if (picture.size(2) != request.height() || picture.size(3) != request.width())
            throw new IllegalArgumentException("--control-image " + controlImage + " is " + picture.size(3) + "x" + picture.size(2) + " but the image is generated at "
                    + request.width() + "x" + request.height() + ": give --width and --height of the conditioning image, or resize it");
        return new ControlNetConditioning(model, picture, controlScale != null ? controlScale : 1.0);
    }

    /** The images of a loaded pipeline (its adapters fused, guided by the ControlNet if any), written as one PNG. */
    private void generate(ModelPipeline pipe, GenerationRequest request, int n, int scale, double strength, ControlNetConditioning control, DType compute,
                          Path dir, PrintWriter log, long start) {
        Tensor init = image == null ? null : ImageFiles.readRgb(image);
        Tensor maskImage = mask == null ? null : ImageFiles.readGrey(mask);
        if (maskImage != null && (maskImage.size(2) != init.size(2) || maskImage.size(3) != init.size(3)))
            throw new IllegalArgumentException("--mask " + mask + " is " + maskImage.size(3) + "x" + maskImage.size(2) + " but --image " + image + " is "
                    + init.size(3) + "x" + init.size(2) + ": give a mask of the image's size");
        String schedulerName = pipe.scheduler().getClass().getSimpleName();
        List<Tensor> images = new ArrayList<>();
        try (StepProgress progress = new StepProgress("generate", (long) batch * stepsPerImage(pipe.scheduler(), n, strength), log)) {
            DenoisingListener listener = (index, t, input, output, guided, latents) -> progress.step();
            for (int i = 0; i < batch; i++) {
                GenerationRequest one = new GenerationRequest(prompt, negative, n, request.guidanceScale(), rescale, request.height(),
                        request.width(), seed + i, null);
                try (Generator generator = new Generator(one.seed())) {
                    images.add(init == null ? pipe.generate(one, generator, listener, control).image()
                            : maskImage != null ? pipe.inpaint(one, init, maskImage, strength, generator, listener).image()
                            : pipe.imageToImage(one, init, strength, generator, listener).image());
                }
            }
        }
        Tensor picture = grid(images, scale);
        int drawnHeight = (int) images.getFirst().size(2), drawnWidth = (int) images.getFirst().size(3);
        ImageParameters parameters = new ImageParameters(prompt, negative, seed, n, request.guidanceScale(), schedulerName, dir.toString(),
                drawnWidth, drawnHeight, batch, init == null ? null : strength, extraParameters(control));
        ImageFiles.writePng(picture, out, parameters.pngText());
        log.printf("%s: %d image(s), %d step(s) with %s, guidance %s, %s%s in %.2f s -> %s%n", prompt, batch, n, schedulerName,
                request.guidanceScale() > 1 ? request.guidanceScale() : "off", dir, compute == DType.FLOAT32 ? "" : " in " + compute.name().toLowerCase(),
                (System.nanoTime() - start) / 1e9, out.toAbsolutePath());
    }

    /** What else shaped the image, for its PNG text: the adapters, the mask, the ControlNet. */
    private Map<String, String> extraParameters(ControlNetConditioning control) {
        Map<String, String> extra = new java.util.LinkedHashMap<>();
        if (!loras.isEmpty()) extra.put("lora", String.join(", ", loras));
        if (mask != null) extra.put("mask", mask.toString());
        if (control != null) extra.put("controlnet", controlnet + " (image " + controlImage + ", scale " + control.scale() + ")");
        return extra;
    }

    /** The denoising steps the listener will see per image: the scheduler's timesteps (Heun and PNDM take more than N), or strength's share. */
    private int stepsPerImage(Scheduler s, int n, double strength) {
        if (image == null) {
            s.setTimesteps(n);
            return s.timesteps().length;
        }
        return StrengthSchedule.apply(s, n, strength).timesteps().length;
    }

    /** One image as it is, several in a near-square grid (missing cells black); upscaled by nearest neighbour to keep small models' pixels sharp. */
    static Tensor grid(List<Tensor> images, int scale) {
        if (images.size() == 1) return ImageGrid.enlarge(images.getFirst(), scale);
        int cols = (int) Math.ceil(Math.sqrt(images.size())), rows = (images.size() + cols - 1) / cols;
        List<Tensor> lines = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            Tensor[] cells = new Tensor[cols];
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                cells[c] = i < images.size() ? images.get(i) : images.getFirst().mul(0);
            }
            lines.add(Tensor.cat(0, cells));
        }
        return ImageGrid.of(lines, scale);
    }
}
