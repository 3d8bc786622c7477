package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.evaluation.ClassSamples;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.pipelines.StableDiffusionPipeline;

/**
 * Writes N samples per class as PNG files, one folder per class, from a fixed seed, so anyone can score a
 * model with their own feature network: {@code sample --model DIR --out DIR [--per-class 10] [--steps S]
 * [--guidance G] [--seed 0]} (steps and guidance default to the directory's panama-sd.json, else 25 and 3).
 */
final class SampleCommand {
    static void run(String[] args) throws Exception {
        Options o = Options.parse("sample", args, Set.of("model", "out", "per-class", "steps", "guidance", "seed"));
        if (!o.has("model") || !o.has("out")) throw new IllegalArgumentException("sample: --model DIR and --out DIR are required");
        Path model = Path.of(o.string("model", null)), out = Path.of(o.string("out", null));
        GenerationDefaults d = GenerationDefaults.of(model, 25, 3.0, 32);
        int perClass = o.integer("per-class", 10), steps = o.integer("steps", d.steps());
        double guidance = o.number("guidance", d.guidance());
        try (Scope scope = Scope.open(); StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model)) {
            Tensor images = ClassSamples.generate(pipe, perClass, steps, guidance, d.height(), o.longValue("seed", 0), 100);
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
    }

    private SampleCommand() {}
}
