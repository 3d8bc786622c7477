package org.panamasd.evaluation;

import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** The within-class diversity measures against hand-computed values. */
class SampleMetricsTest extends NativeTest {

    @Test
    void withinClassSpreadsAverageOverClasses() {
        try (Scope scope = Scope.open()) {
            long[] labels = {0, 1, 0, 1};
            // class 0: two identical rows (spread 0); class 1: rows (0, 0) and (2, 2): unbiased variance 2 per dim, trace 4
            Tensor features = Tensor.of(new float[] {5, 5, 0, 0, 5, 5, 2, 2}, 4, 2);
            assertClose(2.0, SampleMetrics.withinClassFeatureSpread(features, labels), 1e-6);
            // class 1 pixels 0 and 1: unbiased std 1/sqrt(2) everywhere; class 0: 0 -> mean over classes 1/(2 sqrt 2)
            Tensor images = Tensor.of(new float[] {0.3f, 0.3f, 0, 0, 0.3f, 0.3f, 1, 1}, 4, 1, 1, 2);
            assertClose(1 / (2 * Math.sqrt(2)), SampleMetrics.withinClassPixelSpread(images, labels), 1e-6);
        }
    }
}
