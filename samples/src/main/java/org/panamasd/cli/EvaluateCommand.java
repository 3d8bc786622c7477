package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
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

/**
 * Scores text-to-image models on Fashion-MNIST prompts against the held-out test split, through a frozen
 * feature network: FID, class accuracy and within-class diversity, one table row per (model, steps, guidance),
 * with an image grid per row:
 * {@code evaluate --features DIR --rows "NAME=DIR:STEPS:GUIDANCE[:SAMPLER];..." [--per-class 200] [--seed 0] [--out DIR]}; a row's
 * DIR is a diffusers text-to-image directory or a {@code train-score} model (SAMPLER langevin, pc or ode; STEPS per level for
 * langevin).
 */
final class EvaluateCommand {
    /** A row: NAME=DIR:STEPS:GUIDANCE, and for a score model optionally :SAMPLER (langevin, pc, ode). */
    record Row(String name, Path model, int steps, double guidance, String sampler) {
        static Row parse(String spec) {
            String[] nameRest = spec.split("=", 2);
            String[] parts = nameRest.length == 2 ? nameRest[1].split(":") : new String[0];
            if (parts.length != 3 && parts.length != 4)
                throw new IllegalArgumentException("evaluate: a row is NAME=DIR:STEPS:GUIDANCE[:SAMPLER], got '" + spec + "'");
            try {
                return new Row(nameRest[0].trim(), Path.of(parts[0]), Integer.parseInt(parts[1]), Double.parseDouble(parts[2]),
                        parts.length == 4 ? parts[3] : null);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("evaluate: bad steps or guidance in row '" + spec + "'");
            }
        }
    }

    static void run(String[] args) throws Exception {
        Options o = Options.parse("evaluate", args, Set.of("features", "rows", "per-class", "seed", "out", "batch"));
        if (!o.has("features") || !o.has("rows")) throw new IllegalArgumentException("evaluate: --features DIR and --rows \"NAME=DIR:STEPS:GUIDANCE;...\" are required");
        int perClass = o.integer("per-class", 200), batch = o.integer("batch", 200);
        long seed = o.longValue("seed", 0);
        Path out = Path.of(o.string("out", "runs/evaluate"));
        Files.createDirectories(out);
        List<Row> rows = new ArrayList<>();
        for (String spec : o.string("rows", "").split(";")) if (!spec.isBlank()) rows.add(Row.parse(spec.trim()));
        FashionMnist test = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false);
        StringBuilder table = new StringBuilder();
        table.append(String.format("Samples: %d per class (%d), seed %d; real: the %d held-out test images; feature network %s%n%n", perClass,
                perClass * 10, seed, test.size(), o.string("features", "")));
        table.append("| model | steps | guidance | FID | class accuracy | feature diversity (÷ real) | pixel diversity (÷ real) | seconds |\n");
        table.append("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        try (Scope scope = Scope.open(); Dinov2Classifier network = Dinov2Classifier.load(Path.of(o.string("features", null))).freeze()) {
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
        if (row.sampler() != null) throw new IllegalArgumentException("evaluate: a sampler is only chosen for score models, row " + row.name());
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

    private EvaluateCommand() {}
}
