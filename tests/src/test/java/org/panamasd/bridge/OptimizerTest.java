package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.optim.Optimizer;
import org.panamasd.support.NativeTest;

class OptimizerTest extends NativeTest {

    /** First Adam step: m = (1-b1) g, v = (1-b2) g^2, bias-corrected to g and g^2: p -= lr * g / (|g| + eps). */
    @Test
    void oneAdamStepMatchesTheClosedForm() {
        double[] p0 = {1.0, -2.0, 0.5};
        double[] coefficients = {3.0, 0.25, -4.0};  // loss = sum(c * p^2) so g = 2 c p
        double lr = 0.1, eps = 1e-8;
        double[] expected = new double[3];
        for (int i = 0; i < 3; i++) {
            double g = 2 * coefficients[i] * p0[i];
            expected[i] = p0[i] - lr * g / (Math.abs(g) + eps);
        }
        try (Scope scope = Scope.open()) {
            Tensor p = Tensor.of(p0, 3).requiresGrad(true);
            try (Optimizer adam = Optimizer.adam(List.of(p), lr, 0.9, 0.999, eps, 0, false)) {
                p.pow(2).mul(Tensor.of(coefficients, 3)).sum().backward();
                adam.step();
            }
            assertClose(expected, p.toDoubleArray(), 1e-12, 0);
        }
    }

    @Test
    void sgdWithMomentumAndWeightDecay() {
        try (Scope scope = Scope.open()) {
            Tensor p = Tensor.of(new double[] {2.0}, 1).requiresGrad(true);
            try (Optimizer sgd = Optimizer.sgd(List.of(p), 0.1, 0.9, 0, 0.01, false)) {
                double value = 2.0, buffer = 0;
                for (int step = 0; step < 3; step++) {
                    sgd.zeroGrad();
                    p.pow(2).sum().backward();
                    sgd.step();
                    double g = 2 * value + 0.01 * value;
                    buffer = step == 0 ? g : 0.9 * buffer + g;
                    value -= 0.1 * buffer;
                }
                assertClose(value, p.item(), 1e-12);
            }
        }
    }

    @Test
    void savedStateContinuesTheSameTrajectory(@TempDir Path dir) throws java.io.IOException {
        Path state = dir.resolve("adam.pt");
        try (Scope scope = Scope.open()) {
            Tensor a = Tensor.of(new double[] {1.0, 2.0}, 2).requiresGrad(true);
            Tensor b = Tensor.of(new double[] {1.0, 2.0}, 2).requiresGrad(true);
            try (Optimizer first = Optimizer.adamW(List.of(a), 0.05, 0.9, 0.99, 1e-8, 0.01, false);
                 Optimizer second = Optimizer.adamW(List.of(b), 0.05, 0.9, 0.99, 1e-8, 0.01, false)) {
                for (int i = 0; i < 3; i++) {
                    first.zeroGrad();
                    a.pow(3).sum().backward();
                    first.step();
                }
                first.save(state);
                assertTrue(Files.size(state) > 0);
                try (Scope copy = Scope.open(); var region = org.panamasd.Autograd.noGrad()) {
                    b.copyFrom(a);
                }
                second.load(state);
                first.zeroGrad();
                second.zeroGrad();
                a.pow(3).sum().backward();
                b.pow(3).sum().backward();
                first.step();
                second.step();
                assertClose(a.toDoubleArray(), b.toDoubleArray(), 0, 0);
            }
            try (Optimizer other = Optimizer.adam(List.of(a), 0.1)) {
                assertThrows(IllegalArgumentException.class, () -> other.load(dir.resolve("missing.pt")));
            }
        }
    }

    @Test
    void clipGradNormScalesToTheBound() {
        try (Scope scope = Scope.open()) {
            Tensor p = Tensor.of(new double[] {3.0, 4.0}, 2).requiresGrad(true);
            p.mul(p).sum().div(2).backward();  // grad = p, norm 5
            double before = Optimizer.clipGradNorm(List.of(p), 1.0, 2.0);
            assertClose(5.0, before, 1e-12);
            assertClose(new double[] {0.6, 0.8}, p.grad().toDoubleArray(), 1e-6, 0);
        }
    }
}
