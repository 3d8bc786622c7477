package org.panamasd.evaluation;

import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.dinov2.Dinov2Classifier;

/**
 * What the {@code evaluate} table reports for a set of class-conditional samples, against held-out real
 * images, all through one frozen feature network: FID on its features, the share of samples its classifier
 * assigns to the prompted class, and within-class diversity relative to the real images (the mean over
 * classes of the trace of the within-class feature covariance, and of the mean per-pixel std). FID alone
 * rewards a collapsed student; the diversity ratios expose one.
 */
public record SampleMetrics(double fid, double accuracy, double featureDiversity, double pixelDiversity) {

    /** The real side: statistics of held-out images, computed once, and the classifier's accuracy on them. */
    public record Reference(GaussianStatistics features, double featureSpread, double pixelSpread, double accuracy, int count) {
        public static Reference of(Dinov2Classifier network, Tensor images01, long[] labels) {
            try (Scope s = Scope.open()) {
                Tensor features = SampleMetrics.features(network, images01);
                return new Reference(GaussianStatistics.of(features), withinClassFeatureSpread(features, labels),
                        withinClassPixelSpread(images01, labels), SampleMetrics.accuracy(network, features, labels), (int) images01.size(0));
            }
        }
    }

    public static SampleMetrics of(Dinov2Classifier network, Tensor images01, long[] labels, Reference real) {
        try (Scope s = Scope.open()) {
            Tensor features = features(network, images01);
            double fid = GaussianStatistics.of(features).frechetDistance(real.features());
            double accuracy = accuracy(network, features, labels);
            return new SampleMetrics(fid, accuracy, withinClassFeatureSpread(features, labels) / real.featureSpread(),
                    withinClassPixelSpread(images01, labels) / real.pixelSpread());
        }
    }

    /** The classifier's input features of images in [0, 1] (the network sees [-1, 1]), (N, D), in the current scope. */
    static Tensor features(Dinov2Classifier network, Tensor images01) {
        try (var inference = Autograd.inferenceMode()) {
            long n = images01.size(0);
            Tensor[] parts = new Tensor[(int) ((n + 499) / 500)];
            for (int p = 0; p < parts.length; p++) {
                long from = p * 500L, len = Math.min(500, n - from);
                try (Scope s = Scope.open()) {
                    parts[p] = network.features(network.forward(images01.narrow(0, from, len).mul(2).sub(1))).moveToParent();
                }
            }
            return Tensor.cat(0, parts);
        }
    }

    private static double accuracy(Dinov2Classifier network, Tensor features, long[] labels) {
        try (Scope s = Scope.open(); var inference = Autograd.inferenceMode()) {
            long[] predicted = network.classify(features).argmax(1, false).toLongArray();
            int correct = 0;
            for (int i = 0; i < labels.length; i++) if (predicted[i] == labels[i]) correct++;
            return (double) correct / labels.length;
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
