package org.panamasd.evaluation;

import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * What the {@code evaluate} table reports for a set of class-conditional samples, against held-out real
 * images, all through one frozen classifier: FID on its features, the share of samples it assigns to the
 * prompted class, within-class diversity relative to the real images (the mean over classes of the trace of
 * the within-class feature covariance; the same over the correctly classified samples only, so artefacts
 * that the classifier does not recognise as the class do not count as variety; and the mean per-pixel std),
 * and improved precision and recall ({@link PrecisionRecall}). FID alone rewards a collapsed student; the
 * diversity ratios and the recall expose one.
 */
public record SampleMetrics(double fid, double accuracy, double featureDiversity, double correctDiversity, double pixelDiversity,
                            double precision, double recall) {

    /**
     * The real side, computed once: statistics of held-out images, the classifier's accuracy on them, and the
     * features of the first {@code precisionRecallCount} of them (a set the size of a row's samples, for
     * precision and recall), which live in the caller's scope.
     */
    public record Reference(GaussianStatistics features, Tensor precisionRecallFeatures, double featureSpread, double correctSpread,
                            double pixelSpread, double accuracy, int count) {
        public static Reference of(FeatureClassifier network, Tensor images01, long[] labels, int precisionRecallCount) {
            try (Scope s = Scope.open()) {
                Tensor features = network.features(images01);
                long[] predicted = network.predict(features);
                Tensor subset = features.narrow(0, 0, Math.min(precisionRecallCount, features.size(0))).copy().moveToParent();
                return new Reference(GaussianStatistics.of(features), subset, withinClassFeatureSpread(features, labels),
                        withinClassFeatureSpread(features, labels, predicted), withinClassPixelSpread(images01, labels),
                        shareCorrect(predicted, labels), (int) images01.size(0));
            }
        }
    }

    public static SampleMetrics of(FeatureClassifier network, Tensor images01, long[] labels, Reference real) {
        try (Scope s = Scope.open()) {
            Tensor features = network.features(images01);
            long[] predicted = network.predict(features);
            double fid = GaussianStatistics.of(features).frechetDistance(real.features());
            PrecisionRecall pr = PrecisionRecall.of(real.precisionRecallFeatures(), features, PrecisionRecall.K);
            return new SampleMetrics(fid, shareCorrect(predicted, labels), withinClassFeatureSpread(features, labels) / real.featureSpread(),
                    withinClassFeatureSpread(features, labels, predicted) / real.correctSpread(),
                    withinClassPixelSpread(images01, labels) / real.pixelSpread(), pr.precision(), pr.recall());
        }
    }

    private static double shareCorrect(long[] predicted, long[] labels) {
        int correct = 0;
        for (int i = 0; i < labels.length; i++) if (predicted[i] == labels[i]) correct++;
        return (double) correct / labels.length;
    }

    /** The same over the rows the classifier assigns to their own class. */
    static double withinClassFeatureSpread(Tensor features, long[] labels, long[] predicted) {
        long[] kept = java.util.stream.IntStream.range(0, labels.length).filter(i -> predicted[i] == labels[i]).asLongStream().toArray();
        if (kept.length == 0) return 0;
        try (Scope s = Scope.open()) {
            long[] keptLabels = java.util.Arrays.stream(kept).map(i -> labels[(int) i]).toArray();
            return withinClassFeatureSpread(features.indexSelect(0, Tensor.of(kept, kept.length)), keptLabels);
        }
    }

    /** Mean over classes of trace(cov(features of the class)). */
    static double withinClassFeatureSpread(Tensor features, long[] labels) {
        return meanOverClasses(features, labels, rows -> rows.var(new long[] {0}, 1, false).sum().item());
    }

    /** Mean over classes of the mean over pixels of the std over the class's images. */
    static double withinClassPixelSpread(Tensor images, long[] labels) {
        return meanOverClasses(images, labels, rows -> rows.to(DType.FLOAT32).std(new long[] {0}, 1, false).mean().item());
    }

    /** The mean over classes (with at least 2 rows) of {@code spread} of the class's rows. */
    private static double meanOverClasses(Tensor rowsOfAll, long[] labels, java.util.function.ToDoubleFunction<Tensor> spread) {
        double total = 0;
        int classes = 0;
        for (long c : distinct(labels)) {
            try (Scope s = Scope.open()) {
                Tensor rows = rowsOfAll.indexSelect(0, Tensor.of(indicesOf(labels, c), count(labels, c)));
                if (rows.size(0) < 2) continue;
                total += spread.applyAsDouble(rows);
                classes++;
            }
        }
        return total / Math.max(1, classes);
    }

    private static long[] distinct(long[] labels) {
        return java.util.Arrays.stream(labels).distinct().sorted().toArray();
    }

    private static long count(long[] labels, long c) {
        return java.util.Arrays.stream(labels).filter(l -> l == c).count();
    }

    private static long[] indicesOf(long[] labels, long c) {
        return java.util.stream.IntStream.range(0, labels.length).filter(i -> labels[i] == c).asLongStream().toArray();
    }
}
