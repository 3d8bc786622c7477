package org.panamasd.evaluation;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** Improved precision and recall against hand-worked point sets on a line. */
class PrecisionRecallTest extends NativeTest {

    private static Tensor points(float... xs) {
        return Tensor.of(xs, xs.length, 1);
    }

    @Test
    void aCollapsedGeneratorIsPreciseButRecallsLittle() {
        try (Scope scope = Scope.open()) {
            Tensor real = points(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);                 // k = 1: every real ball has radius 1
            Tensor collapsed = points(4.0f, 4.1f, 4.2f);                         // radii 0.1: only the real 4 is inside
            PrecisionRecall pr = PrecisionRecall.of(real, collapsed, 1);
            assertEquals(1.0, pr.precision(), 1e-9);
            assertEquals(0.1, pr.recall(), 1e-6);
        }
    }

    @Test
    void samplesOffTheRealManifoldLosePrecision() {
        try (Scope scope = Scope.open()) {
            Tensor real = points(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            // 0.5 is within 1 of the real 0; 100 is within no real ball. Generated radii (k = 1): 99.5 each, so every real is covered
            PrecisionRecall pr = PrecisionRecall.of(real, points(0.5f, 100), 1);
            assertEquals(0.5, pr.precision(), 1e-9);
            assertEquals(1.0, pr.recall(), 1e-9);
            assertThrows(IllegalArgumentException.class, () -> PrecisionRecall.of(real, points(1, 2, 3), 3));
        }
    }
}
