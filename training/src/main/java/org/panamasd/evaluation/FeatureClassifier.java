package org.panamasd.evaluation;

import org.panamasd.Autograd;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.dinov2.Dinov2Classifier;

/**
 * A frozen image classifier as the metrics use it: images in [-1, 1] to the features its linear classifier reads,
 * and those features to class logits.
 */
public interface FeatureClassifier {
    /** The classifier's input features of a batch of images in [-1, 1], (B, D), in the current scope. */
    Tensor featuresOf(Tensor images);

    /** Class logits (B, classes) from {@link #featuresOf}. */
    Tensor classify(Tensor features);

    /** Features of images in [0, 1] (N, 3, H, W), 500 at a time, without a graph; (N, D) in the current scope. */
    default Tensor features(Tensor images01) {
        try (var inference = Autograd.inferenceMode()) {
            long n = images01.size(0);
            Tensor[] parts = new Tensor[(int) ((n + 499) / 500)];
            for (int p = 0; p < parts.length; p++) {
                long from = p * 500L, len = Math.min(500, n - from);
                try (Scope s = Scope.open()) {
                    parts[p] = featuresOf(images01.narrow(0, from, len).mul(2).sub(1)).moveToParent();
                }
            }
            return Tensor.cat(0, parts);
        }
    }

    /** The predicted class of each row of {@code features}. */
    default long[] predict(Tensor features) {
        try (Scope s = Scope.open(); var inference = Autograd.inferenceMode()) {
            return classify(features).argmax(1, false).toLongArray();
        }
    }

    /** A DINOv2 classifier's [CLS, mean patch] features. */
    static FeatureClassifier of(Dinov2Classifier network) {
        return new FeatureClassifier() {
            @Override
            public Tensor featuresOf(Tensor images) {
                return network.features(network.forward(images));
            }

            @Override
            public Tensor classify(Tensor features) {
                return network.classify(features);
            }
        };
    }
}
