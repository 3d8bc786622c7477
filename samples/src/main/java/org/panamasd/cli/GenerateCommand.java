package org.panamasd.cli;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.panamasd.Scope;
import org.panamasd.io.ImageFiles;
import org.panamasd.Generator;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.GenerationResult;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;

/**
 * Text to image from a diffusers Stable Diffusion directory:
 * {@code generate --model DIR --prompt TEXT [--negative TEXT] [--steps 30] [--guidance 7.5] [--rescale 0]
 * [--seed 0] [--height 512] [--width 512] [--scheduler CLASS] [--image FILE --strength 0.75] [--out image.png]}.
 */
final class GenerateCommand {
    static void run(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) throw new IllegalArgumentException("expected --option value pairs, got '" + args[i] + "'");
            options.put(args[i].substring(2), args[++i]);
        }
        if (!options.containsKey("model") || !options.containsKey("prompt"))
            throw new IllegalArgumentException("usage: generate --model DIR --prompt TEXT [--negative TEXT] [--steps N] [--guidance G] [--rescale PHI]"
                    + " [--seed S] [--height H] [--width W] [--scheduler CLASS] [--image FILE --strength S] [--out FILE.png]");
        Path model = Path.of(options.get("model"));
        Path out = Path.of(options.getOrDefault("out", "image.png"));
        if (java.nio.file.Files.isDirectory(model.resolve("text_encoder_2"))) {
            generateXl(model, options, out);
            return;
        }
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, options.get("scheduler")); Scope scope = Scope.open()) {
            GenerationRequest request = request(options, 7.5, 512);
            long start = System.nanoTime();
            GenerationResult result;
            if (options.containsKey("image")) {
                // image to image: the input image must have the requested size
                try (Generator generator = new Generator(request.seed())) {
                    result = pipe.imageToImage(request, ImageFiles.readRgb(Path.of(options.get("image"))),
                            Double.parseDouble(options.getOrDefault("strength", "0.75")), generator, NoiseSource.of(generator), DenoisingListener.NONE);
                }
            } else {
                result = pipe.generate(request);
            }
            ImageFiles.writePng(result.image(), out);
            System.out.printf("%s: %d steps with %s in %.1f s -> %s%n", request.prompt(), request.steps(),
                    pipe.scheduler().getClass().getSimpleName(), (System.nanoTime() - start) / 1e9, out.toAbsolutePath());
        }
    }

    /** SDXL / SDXL-Turbo directories (two text encoders): text to image. */
    private static void generateXl(Path model, Map<String, String> options, Path out) {
        if (options.containsKey("image")) throw new IllegalArgumentException("image to image is built for SD 1.x / 2.x only");
        try (var pipe = org.panamasd.pipelines.StableDiffusionXLPipeline.load(model, options.get("scheduler")); Scope scope = Scope.open()) {
            GenerationRequest request = request(options, 5.0, 1024);
            long start = System.nanoTime();
            ImageFiles.writePng(pipe.generate(request).image(), out);
            System.out.printf("%s: %d steps (SDXL) in %.1f s -> %s%n", request.prompt(), request.steps(), (System.nanoTime() - start) / 1e9, out.toAbsolutePath());
        }
    }

    /** The request the options describe, with the model family's default guidance and size. */
    private static GenerationRequest request(Map<String, String> options, double guidance, int size) {
        return new GenerationRequest(options.get("prompt"), options.get("negative"), Integer.parseInt(options.getOrDefault("steps", "30")),
                Double.parseDouble(options.getOrDefault("guidance", "" + guidance)), Double.parseDouble(options.getOrDefault("rescale", "0")),
                Integer.parseInt(options.getOrDefault("height", "" + size)), Integer.parseInt(options.getOrDefault("width", "" + size)),
                Long.parseLong(options.getOrDefault("seed", "0")), null);
    }

    private GenerateCommand() {}
}
