package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.evaluation.ClassSamples;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.pipelines.StableDiffusionPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writes N samples per class as PNG files, one folder per class, from a fixed seed, so anyone can score a
 * model with their own feature network: {@code sample --model DIR --out DIR [--per-class 10] [--steps S]
 * [--guidance G] [--seed 0]} (steps and guidance default to the directory's panama-sd.json, else 25 and 3).
 */
@Command(name = "sample", description = "N PNGs per Fashion-MNIST class from a model, one folder per class, for anyone's own scorer.")
final class SampleCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A diffusers pipeline directory.")
    Path model;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the class folders go.")
    Path out;
    @Option(names = "--per-class", defaultValue = "10", description = "Samples per class (default: ${DEFAULT-VALUE}).")
    int perClass;
    @Option(names = "--steps", description = "Denoising steps (default: the model's panama-sd.json, else 25).")
    Integer steps;
    @Option(names = "--guidance", description = "Guidance scale (default: the model's panama-sd.json, else 3).")
    Double guidance;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        GenerationDefaults d = GenerationDefaults.of(model, 25, 3.0, 32);
        int steps = this.steps != null ? this.steps : d.steps();
        double guidance = this.guidance != null ? this.guidance : d.guidance();
        try (Scope scope = Scope.open(); StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model)) {
            Tensor images = ClassSamples.generate(pipe, perClass, steps, guidance, d.height(), seed, 100);
            for (int c = 0; c < 10; c++) {
                Path dir = out.resolve(String.format("%d-%s", c, FashionMnist.CLASSES[c].replaceAll("[^A-Za-z]+", "-").toLowerCase()));
                Files.createDirectories(dir);
                for (int i = 0; i < perClass; i++)
                    try (Scope s = Scope.open()) {
                        org.panamasd.io.ImageFiles.writePng(images.narrow(0, (long) c * perClass + i, 1), dir.resolve(String.format("%04d.png", i)));
                    }
            }
        }
        System.out.printf("wrote %d samples per class (%d steps, guidance %s) under %s%n", perClass, steps, guidance, out.toAbsolutePath());
        return 0;
    }
}
