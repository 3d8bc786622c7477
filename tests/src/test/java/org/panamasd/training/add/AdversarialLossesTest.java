package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** The ADD losses against values derived by hand. */
class AdversarialLossesTest extends NativeTest {

    @Test
    void hingeLosses() {
        try (Scope scope = Scope.open()) {
            Tensor real = Tensor.of(new double[] {2.0, 0.5, -1.0}, 3), fake = Tensor.of(new double[] {-2.0, 0.0, 0.5}, 3);
            // real: max(0, 1 - [2, .5, -1]) = [0, .5, 2] -> 2.5 / 3; fake: max(0, 1 + [-2, 0, .5]) = [0, 1, 1.5] -> 2.5 / 3
            assertClose(5.0 / 3, AdversarialLosses.discriminatorHinge(real, fake).item(), 1e-12);
            assertClose(1.5 / 3, AdversarialLosses.generatorHinge(fake).item(), 1e-12);  // -mean([-2, 0, .5])
        }
    }

    /** For D(F) = w . tanh(F) per sample, grad_F D = w * (1 - tanh^2 F), so R1 is known in closed form. */
    @Test
    void r1PenaltyMatchesTheClosedFormAndTrainsTheDiscriminator() {
        double[] w = {0.5, -1.5, 2.0};
        double[][] x = {{0.1, -0.4, 0.9}, {1.2, 0.3, -0.7}};
        double gamma = 2.5, expected = 0;
        double[] dPenaltyDw = new double[3];
        for (double[] row : x)
            for (int j = 0; j < 3; j++) {
                double s = 1 - Math.pow(Math.tanh(row[j]), 2);
                expected += Math.pow(w[j] * s, 2);
                dPenaltyDw[j] += gamma / 2 * 2 * w[j] * s * s / x.length;
            }
        expected *= gamma / 2 / x.length;
        try (Scope scope = Scope.open()) {
            Tensor weights = Tensor.of(w, 3).requiresGrad(true);
            Tensor real = Tensor.of(new double[] {0.1, -0.4, 0.9, 1.2, 0.3, -0.7}, 2, 3);
            Tensor input = real.detach().requiresGrad(true);
            Tensor logits = input.tanh().mul(weights).sum(new long[] {1}, false);
            Tensor penalty = AdversarialLosses.r1Penalty(logits, java.util.List.of(input), gamma);
            assertClose(expected, penalty.item(), 1e-12);
            penalty.backward();
            assertClose(dPenaltyDw, weights.grad().toDoubleArray(), 1e-12, 0);
            assertFalse(real.requiresGrad(), "the real batch itself is not modified");
        }
    }

    @Test
    void distillationStopsTheTeachersGradient() {
        try (Scope scope = Scope.open()) {
            Tensor student = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2).requiresGrad(true);
            Tensor teacher = Tensor.of(new double[] {0, 2, 5, 4}, 2, 2).requiresGrad(true);
            Tensor weights = Tensor.of(new double[] {1.0, 0.5}, 2);
            // per sample mean squared distance: [(1 + 0) / 2, (4 + 0) / 2] = [0.5, 2]; weighted [0.5, 1] -> mean 0.75
            Tensor loss = AdversarialLosses.distillation(student, teacher, weights);
            assertClose(0.75, loss.item(), 1e-12);
            loss.backward();
            assertNull(teacher.grad(), "stop gradient: the teacher gets none");
            // d/ds = c (1/2 batch) (1/2 elements) 2 (s - t) = c (s - t) / 2
            assertClose(new double[] {0.5, 0, -0.5, 0}, student.grad().toDoubleArray(), 1e-12, 0);
        }
    }
}
