package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.io.ImageFiles;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.GenerationResult;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;

/**
 * Text to image from a diffusers Stable Diffusion directory, by default the shipped Fashion-MNIST Turbo
 * student (models/fashion-turbo: one step, no guidance, 32 px upscaled 8x):
 * {@code generate --prompt TEXT [--model DIR] [--negative TEXT] [--steps N] [--guidance G] [--rescale 0]
 * [--seed 0] [--height H] [--width W] [--upscale K] [--scheduler CLASS] [--image FILE --strength 0.75] [--out image.png]}.
 * Steps, guidance, size and upscaling default to the directory's panama-sd.json, else 30, 7.5 (5 for SDXL)
 * and 512 (1024 for SDXL).
 */
final class GenerateCommand {
    static final Set<String> OPTIONS = Set.of("model", "prompt", "negative", "steps", "guidance", "rescale", "seed", "height", "width",
            "upscale", "scheduler", "image", "strength", "out");

    /** The model a fresh clone generates with. */
    static Path defaultModel() {
        return Paths.root().resolve("models/fashion-turbo");
    }

    static void run(String[] args) {
        Options o = Options.parse("generate", args, OPTIONS);
        if (!o.has("prompt"))
            throw new IllegalArgumentException("usage: generate --prompt TEXT [--model DIR] [--negative TEXT] [--steps N] [--guidance G] [--rescale PHI]"
                    + " [--seed S] [--height H] [--width W] [--upscale K] [--scheduler CLASS] [--image FILE --strength S] [--out FILE.png]");
        Path model = o.has("model") ? Path.of(o.string("model", null)) : defaultModel();
        if (!Files.isDirectory(model)) throw new IllegalArgumentException("generate: no model directory " + model);
        Path out = Path.of(o.string("out", "image.png"));
        boolean xl = Files.isDirectory(model.resolve("text_encoder_2"));
        GenerationDefaults d = GenerationDefaults.of(model, 30, xl ? 5.0 : 7.5, xl ? 1024 : 512);
        GenerationRequest request = new GenerationRequest(o.string("prompt", null), o.string("negative", null), o.integer("steps", d.steps()),
                o.number("guidance", d.guidance()), o.number("rescale", 0), o.integer("height", d.height()), o.integer("width", d.width()),
                o.longValue("seed", 0), null);
        int upscale = o.integer("upscale", d.upscale());
        if (upscale < 1 || upscale > 64) throw new IllegalArgumentException("generate: --upscale must be in 1..64, got " + upscale);
        long start = System.nanoTime();
        try (Scope scope = Scope.open()) {
            Tensor image;
            String schedulerName;
            if (xl) {
                if (o.has("image")) throw new IllegalArgumentException("image to image is built for SD 1.x / 2.x only");
                try (var pipe = org.panamasd.pipelines.StableDiffusionXLPipeline.load(model, o.string("scheduler", null))) {
                    image = pipe.generate(request).image();
                    schedulerName = pipe.scheduler().getClass().getSimpleName();
                }
            } else {
                try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, o.string("scheduler", null))) {
                    GenerationResult result;
                    if (o.has("image")) {
                        try (Generator generator = new Generator(request.seed())) {
                            result = pipe.imageToImage(request, ImageFiles.readRgb(Path.of(o.string("image", null))), o.number("strength", 0.75), generator,
                                    NoiseSource.of(generator), DenoisingListener.NONE);
                        }
                    } else {
                        result = pipe.generate(request);
                    }
                    image = result.image();
                    schedulerName = pipe.scheduler().getClass().getSimpleName();
                }
            }
            if (upscale > 1)  // nearest neighbour keeps a small model's pixels sharp
                image = Functional.interpolate(image, image.size(2) * upscale, image.size(3) * upscale, Functional.Interpolation.NEAREST, null);
            ImageFiles.writePng(image, out);
            System.out.printf("%s: %d step(s) with %s, guidance %s, %s in %.2f s -> %s%n", request.prompt(), request.steps(), schedulerName,
                    request.guidanceScale() > 1 ? request.guidanceScale() : "off", model, (System.nanoTime() - start) / 1e9, out.toAbsolutePath());
        }
    }

    private GenerateCommand() {}
}
