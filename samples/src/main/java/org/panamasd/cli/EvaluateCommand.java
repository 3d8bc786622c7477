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
import org.panamasd.evaluation.ConvClassifier;
import org.panamasd.evaluation.FeatureClassifier;
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
 * Scores text-to-image models on Fashion-MNIST prompts against the held-out test split, through the evaluator
 * (a classifier trained apart from ADD's feature network; optionally also through that network): FID, class
 * accuracy, within-class diversity of the correctly classified samples, precision and recall; one table row per
 * (model, steps, guidance), each sampled once per seed, with an image grid per row:
 * {@code evaluate --rows "NAME=DIR:STEPS:GUIDANCE;..." [--evaluator DIR] [--features DIR] [--per-class 200] [--seeds 0,1] [--out DIR]}.
 */
@Command(name = "evaluate", description = {"Scores models on Fashion-MNIST prompts: FID, class accuracy and diversity.",
        "Against the held-out test images, through a frozen feature network; one table row (and image grid) per model,",
        "steps and guidance."})
final class EvaluateCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--evaluator", paramLabel = "DIR", description = "The evaluator every row is scored with (default: models/fashion-evaluator, trained apart from ADD's feature network).")
    Path evaluator;
    @Option(names = "--features", paramLabel = "DIR", description = "Also score through this feature network, in columns of its own (e.g. models/fashion-feature-net: ADD's discriminator looks through it, so it can be gamed).")
    Path features;
    @Option(names = "--rows", required = true, paramLabel = "NAME=DIR:STEPS:GUIDANCE[:SAMPLER];...", description = "The rows of the table: a diffusers directory, or a train-score model with SAMPLER langevin, pc or ode.")
    String rowSpecs;
    @Option(names = "--per-class", defaultValue = "200", description = "Samples per class (default: ${DEFAULT-VALUE}).")
    int perClass;
    @Option(names = "--seeds", defaultValue = "0,1", split = ",", paramLabel = "S,S,...", description = "Each row is sampled once per seed; the table shows the mean and half the range (default: ${DEFAULT-VALUE}).")
    long[] seeds;
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
        if (seeds.length == 0) throw new IllegalArgumentException("--seeds: at least one seed");
        Path evaluatorDir = evaluator != null ? evaluator : Paths.root().resolve("models/fashion-evaluator");
        FashionMnist test = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false);
        int samples = perClass * 10;
        StringBuilder table = new StringBuilder();
        table.append(String.format("Samples: %d per class (%d per row and seed), seeds %s; real: the %d held-out test images (precision and recall: the first %d);%n"
                + "evaluator %s%s. Each figure: mean ± half the range over the seeds.%n%n", perClass, samples, java.util.Arrays.toString(seeds), test.size(),
                Math.min(samples, test.size()), evaluatorDir, features != null ? "; feature-network columns: " + features : ""));
        table.append("| model | steps | guidance | FID | class accuracy | diversity, correct (÷ real) | precision | recall |");
        if (features != null) table.append(" FID (feature net) | accuracy (feature net) | feature diversity (÷ real) | pixel diversity (÷ real) |");
        table.append(" seconds |\n|").append(" --- |".repeat(features != null ? 13 : 9)).append('\n');
        try (Scope scope = Scope.open(); ConvClassifier evaluatorNet = ConvClassifier.load(evaluatorDir).freeze();
             Dinov2Classifier featureNet = features != null ? Dinov2Classifier.load(features).freeze() : null) {
            int[] all = new int[test.size()];
            for (int i = 0; i < all.length; i++) all[i] = i;
            // the references' precision-and-recall features live in this command's scope; the 10,000 images only until they are made
            Tensor realImages;
            try (Scope s = Scope.open()) {
                realImages = test.paddedRgb(all).add(1).div(2).moveToParent();
            }
            long[] labels = test.labels(all).toLongArray();
            SampleMetrics.Reference real = SampleMetrics.Reference.of(evaluatorNet, realImages, labels, samples);
            SampleMetrics.Reference realFeatureNet = featureNet != null ? SampleMetrics.Reference.of(FeatureClassifier.of(featureNet), realImages, labels, samples) : null;
            realImages.close();
            System.out.printf("real test images: evaluator accuracy %.3f%s%n", real.accuracy(),
                    realFeatureNet != null ? String.format(", feature network accuracy %.3f", realFeatureNet.accuracy()) : "");
            for (Row row : rows) {
                List<SampleMetrics> byEvaluator = new ArrayList<>(), byFeatureNet = new ArrayList<>();
                long start = System.nanoTime();
                for (long seed : seeds) {
                    try (Scope s = Scope.open()) {
                        Tensor images = samples(row, perClass, seed, batch);
                        byEvaluator.add(SampleMetrics.of(evaluatorNet, images, ClassSamples.labels(perClass), real));
                        if (featureNet != null) byFeatureNet.add(SampleMetrics.of(FeatureClassifier.of(featureNet), images, ClassSamples.labels(perClass), realFeatureNet));
                        if (seed == seeds[0]) writeGrid(images, perClass, out.resolve(row.name().replaceAll("[^A-Za-z0-9._-]+", "_") + ".png"));
                    }
                }
                double seconds = (System.nanoTime() - start) / 1e9 / seeds.length;
                StringBuilder line = new StringBuilder(String.format("| %s | %d | %s |", row.name(), row.steps(),
                        row.guidance() > 1 ? String.format("%.1f", row.guidance()) : "none"));
                line.append(spread(byEvaluator, SampleMetrics::fid, "%.2f")).append(spread(byEvaluator, SampleMetrics::accuracy, "%.3f"))
                        .append(spread(byEvaluator, SampleMetrics::correctDiversity, "%.2f")).append(spread(byEvaluator, SampleMetrics::precision, "%.3f"))
                        .append(spread(byEvaluator, SampleMetrics::recall, "%.3f"));
                if (featureNet != null)
                    line.append(spread(byFeatureNet, SampleMetrics::fid, "%.2f")).append(spread(byFeatureNet, SampleMetrics::accuracy, "%.3f"))
                            .append(spread(byFeatureNet, SampleMetrics::featureDiversity, "%.2f")).append(spread(byFeatureNet, SampleMetrics::pixelDiversity, "%.2f"));
                line.append(String.format(" %.0f |", seconds));
                System.out.println(line);
                table.append(line).append('\n');
            }
        }
        Files.writeString(out.resolve("table.md"), table.toString());
        System.out.println("wrote " + out.resolve("table.md") + " and one grid per row in " + out);
        return 0;
    }

    /** " mean ± half-range |" of one figure over the seeds (just the value for one seed). */
    static String spread(List<SampleMetrics> perSeed, java.util.function.ToDoubleFunction<SampleMetrics> figure, String format) {
        double[] v = perSeed.stream().mapToDouble(figure).toArray();
        double mean = java.util.Arrays.stream(v).average().orElse(Double.NaN);
        if (v.length == 1) return " " + String.format(format, mean) + " |";
        double half = (java.util.Arrays.stream(v).max().getAsDouble() - java.util.Arrays.stream(v).min().getAsDouble()) / 2;
        return " " + String.format(format, mean) + " ± " + String.format(format, half) + " |";
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
