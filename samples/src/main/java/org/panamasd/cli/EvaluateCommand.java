package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.evaluation.ClassSamples;
import org.panamasd.evaluation.SampleMetrics;
import org.panamasd.io.ImageFiles;
import org.panamasd.io.ImageGrid;
import org.panamasd.models.dinov2.Dinov2Classifier;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.training.score.ScoreImageModel;
import org.panamasd.training.score.ScoreModelConfig;
import org.panamasd.training.score.ScoreSampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Scores text-to-image models on Fashion-MNIST prompts against the held-out test split, through a frozen
 * feature network: FID, class accuracy and within-class diversity, one table row per (model, steps, guidance),
 * with an image grid per row:
 * {@code evaluate --features DIR --rows "NAME=DIR:STEPS:GUIDANCE;..." [--per-class 200] [--seed 0] [--out DIR]}.
 */
@Command(name = "evaluate", description = {"Scores models on Fashion-MNIST prompts: FID, class accuracy and diversity.",
        "Against the held-out test images, through a frozen feature network; one table row (and image grid) per model,",
        "steps and guidance."})
final class EvaluateCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--features", required = true, paramLabel = "DIR", description = "The feature network (e.g. models/fashion-feature-net).")
    Path features;
    @Option(names = "--rows", required = true, paramLabel = "NAME=DIR:STEPS:GUIDANCE[:SAMPLER];...", description = "The rows of the table: a diffusers directory, or a train-score model with SAMPLER langevin, pc or ode.")
    String rowSpecs;
    @Option(names = "--per-class", defaultValue = "200", description = "Samples per class (default: ${DEFAULT-VALUE}).")
    int perClass;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--out", defaultValue = "runs/evaluate", paramLabel = "DIR", description = "Where table.md and the grids go (default: ${DEFAULT-VALUE}).")
    Path out;
    @Option(names = "--batch", defaultValue = "200", description = "Samples per pipeline batch (default: ${DEFAULT-VALUE}).")
    int batch;

    /** A row: NAME=DIR:STEPS:GUIDANCE, and for a score model optionally :SAMPLER (langevin, pc, ode). */
    record Row(String name, Path model, int steps, double guidance, String sampler) {
        static Row parse(String spec) {
            String[] nameRest = spec.split("=", 2);
            String[] parts = nameRest.length == 2 ? nameRest[1].split(":") : new String[0];
            if (parts.length != 3 && parts.length != 4)
                throw new IllegalArgumentException("--rows: a row is NAME=DIR:STEPS:GUIDANCE[:SAMPLER], got '" + spec + "'");
            try {
                return new Row(nameRest[0].trim(), Path.of(parts[0]), Integer.parseInt(parts[1]), Double.parseDouble(parts[2]),
                        parts.length == 4 ? parts[3] : null);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--rows: bad steps or guidance in row '" + spec + "'");
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        List<Row> rows = new ArrayList<>();
        for (String spec : rowSpecs.split(";")) if (!spec.isBlank()) rows.add(Row.parse(spec.trim()));
        FashionMnist test = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false);
        StringBuilder table = new StringBuilder();
        table.append(String.format("Samples: %d per class (%d), seed %d; real: the %d held-out test images; feature network %s%n%n", perClass,
                perClass * 10, seed, test.size(), features));
        table.append("| model | steps | guidance | FID | class accuracy | feature diversity (÷ real) | pixel diversity (÷ real) | seconds |\n");
        table.append("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        try (Scope scope = Scope.open(); Dinov2Classifier network = Dinov2Classifier.load(features).freeze()) {
            int[] all = new int[test.size()];
            for (int i = 0; i < all.length; i++) all[i] = i;
            SampleMetrics.Reference real;
            try (Scope s = Scope.open()) {
                real = SampleMetrics.Reference.of(network, test.paddedRgb(all).add(1).div(2), test.labels(all).toLongArray());
            }
            System.out.printf("real test images: classifier accuracy %.3f%n", real.accuracy());
            for (Row row : rows) {
                long start = System.nanoTime();
                try (Scope s = Scope.open()) {
                    Tensor images = samples(row, perClass, seed, batch);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    SampleMetrics m = SampleMetrics.of(network, images, ClassSamples.labels(perClass), real);
                    String line = String.format("| %s | %d | %s | %.2f | %.3f | %.2f | %.2f | %.0f |", row.name(), row.steps(),
                            row.guidance() > 1 ? String.format("%.1f", row.guidance()) : "none", m.fid(), m.accuracy(), m.featureDiversity(),
                            m.pixelDiversity(), seconds);
                    System.out.println(line);
                    table.append(line).append('\n');
                    writeGrid(images, perClass, out.resolve(row.name().replaceAll("[^A-Za-z0-9._-]+", "_") + ".png"));
                }
            }
        }
        Files.writeString(out.resolve("table.md"), table.toString());
        System.out.println("wrote " + out.resolve("table.md") + " and one grid per row in " + out);
        return 0;
    }

    /** A row's samples: a score model directory (score_config.json) through its sampler, else a diffusers pipeline. */
    static Tensor samples(Row row, int perClass, long seed, int batch) {
        if (ScoreModelConfig.isScoreModel(row.model())) {
            try (ScoreImageModel model = ScoreImageModel.load(row.model())) {
                ScoreModelConfig c = model.config();
                ScoreSampler sampler = row.sampler() == null ? ScoreSampler.defaultFor(c) : ScoreSampler.parse(row.sampler());
                return ClassSamples.generate((k, noise, stepNoise) -> model.images(Tensor.full(k, DType.INT64, Device.CPU, noise.size(0)), noise,
                        sampler, row.steps(), row.guidance(), stepNoise), perClass, new long[] {c.channels(), c.size(), c.size()}, seed, batch);
            }
        }
        if (row.sampler() != null) throw new IllegalArgumentException("--rows: a sampler is only chosen for score models, row " + row.name());
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(row.model())) {
            return ClassSamples.generate(pipe, perClass, row.steps(), row.guidance(), 32, seed, batch);
        }
    }

    /** The first 8 samples of each class, one class per row, 2x. */
    static void writeGrid(Tensor images, int perClass, Path file) {
        try (Scope s = Scope.open()) {
            List<Tensor> rows = new ArrayList<>();
            int shown = Math.min(8, perClass);
            for (int c = 0; c < 10; c++) rows.add(images.narrow(0, (long) c * perClass, shown));
            ImageFiles.writePng(ImageGrid.of(rows, 2), file);
        }
    }
}
