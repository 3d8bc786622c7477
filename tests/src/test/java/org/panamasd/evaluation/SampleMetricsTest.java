package org.panamasd.evaluation;

import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void correctDiversityCountsOnlyTheSamplesOfTheirOwnClass() {
        try (Scope scope = Scope.open()) {
            long[] labels = {0, 0, 0, 1, 1};
            long[] predicted = {0, 0, 1, 1, 1};  // sample 2 (an artefact far away) is not recognised as class 0
            Tensor features = Tensor.of(new float[] {0, 0, 2, 2, 100, -100, 1, 1, 1, 1}, 5, 2);
            // class 0 keeps (0,0), (2,2): trace 4; class 1: identical rows, 0 -> mean 2; with the artefact class 0 would be far larger
            assertClose(2.0, SampleMetrics.withinClassFeatureSpread(features, labels, predicted), 1e-6);
            assertTrue(SampleMetrics.withinClassFeatureSpread(features, labels) > 1000);
        }
    }
}
