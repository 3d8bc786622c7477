package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.support.NativeTest;

class AutogradTest extends NativeTest {

    /** f(x) = sum(sin(x) * x^2 + exp(x / 3)), in float64. */
    private static Tensor f(Tensor x) {
        return x.sin().mul(x.pow(2)).add(x.div(3).exp()).sum();
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        double[] x0 = {-1.3, -0.2, 0.4, 1.7, 2.5};
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.of(x0, 5).requiresGrad(true);
            f(x).backward();
            double[] analytic = x.grad().toDoubleArray();
            double h = 1e-6;
            for (int i = 0; i < x0.length; i++) {
                try (Scope probe = Scope.open()) {
                    double[] plus = x0.clone(), minus = x0.clone();
                    plus[i] += h;
                    minus[i] -= h;
                    double numeric = (f(Tensor.of(plus, 5)).item() - f(Tensor.of(minus, 5)).item()) / (2 * h);
                    assertClose(numeric, analytic[i], 1e-6);
                }
            }
        }
    }

    /**
     * R1-style gradient penalty of a tiny MLP D(x) = w2 . tanh(W1 x + b1):
     * grad_x D = W1^T (w2 * (1 - tanh^2(W1 x + b1))), penalty = |grad_x D|^2. The gradient comes from
     * Autograd.grad with createGraph, and the penalty is differentiated once more w.r.t. w2.
     */
    @Test
    void gradientPenaltyOfATinyMlpMatchesTheHandDerivation() {
        double[][] w1 = {{0.5, -0.3}, {0.8, 0.1}, {-0.6, 0.9}};
        double[] b1 = {0.1, -0.2, 0.05};
        double[] w2 = {1.2, -0.7, 0.4};
        double[] x0 = {0.3, -0.8};
        // by hand
        double[] gradX = new double[2];
        double[] s = new double[3];
        for (int j = 0; j < 3; j++) {
            double t = Math.tanh(w1[j][0] * x0[0] + w1[j][1] * x0[1] + b1[j]);
            s[j] = 1 - t * t;
            for (int k = 0; k < 2; k++) gradX[k] += w1[j][k] * w2[j] * s[j];
        }
        double penalty = gradX[0] * gradX[0] + gradX[1] * gradX[1];
        // d penalty / d w2_j = 2 * sum_k gradX_k * W1_jk * s_j
        double[] dPenaltyDw2 = new double[3];
        for (int j = 0; j < 3; j++) for (int k = 0; k < 2; k++) dPenaltyDw2[j] += 2 * gradX[k] * w1[j][k] * s[j];

        try (Scope scope = Scope.open()) {
            Tensor W1 = Tensor.of(new double[] {0.5, -0.3, 0.8, 0.1, -0.6, 0.9}, 3, 2).requiresGrad(true);
            Tensor B1 = Tensor.of(b1, 3).requiresGrad(true);
            Tensor W2 = Tensor.of(w2, 3).requiresGrad(true);
            Tensor x = Tensor.of(x0, 2).requiresGrad(true);
            Tensor d = W1.matmul(x).add(B1).tanh().mul(W2).sum();
            Tensor[] grads = Autograd.grad(d, List.of(x), true);
            Tensor r1 = grads[0].pow(2).sum();
            assertClose(penalty, r1.item(), 1e-12);
            assertClose(gradX, grads[0].toDoubleArray(), 1e-12, 0);
            r1.backward();
            assertClose(dPenaltyDw2, W2.grad().toDoubleArray(), 1e-12, 0);
        }
    }

    @Test
    void noGradAndInferenceModeAreScopedPerThread() {
        try (Scope scope = Scope.open()) {
            Tensor w = Tensor.ones(2).requiresGrad(true);
            assertTrue(Autograd.isGradEnabled());
            try (var region = Autograd.noGrad()) {
                assertFalse(Autograd.isGradEnabled());
                assertFalse(w.mul(2).requiresGrad());
            }
            assertTrue(Autograd.isGradEnabled());
            assertTrue(w.mul(2).requiresGrad());
            try (var region = Autograd.inferenceMode()) {
                assertFalse(w.mul(2).requiresGrad());
            }
            assertTrue(w.mul(2).requiresGrad());
        }
    }

    @Test
    void inferenceModeRegionsEndInnermostFirst() {
        var outer = Autograd.inferenceMode();
        var inner = Autograd.inferenceMode();
        var outOfOrder = assertThrows(TorchException.class, outer::close);
        assertTrue(outOfOrder.nativeMessage().contains("innermost first"), outOfOrder.getMessage());
        inner.close();
        outer.close();
        try (Scope scope = Scope.open()) {
            assertTrue(Tensor.ones(2).requiresGrad(true).mul(2).requiresGrad(), "the thread's mode is back to normal");
        }
    }

    @Test
    void gradRegionsAreRefusedOnVirtualThreads() throws Exception {
        // the mode is the carrier's: a virtual thread that blocks inside a region may resume on another one
        Throwable[] failure = new Throwable[3];
        Thread.ofVirtual().start(() -> {
            try {
                Autograd.noGrad();
            } catch (Throwable t) {
                failure[0] = t;
            }
            try {
                Autograd.inferenceMode();
            } catch (Throwable t) {
                failure[1] = t;
            }
            try (Scope scope = Scope.open()) {  // plain ops stay allowed
                Tensor.ones(2).add(1f).sum().item();
            } catch (Throwable t) {
                failure[2] = t;
            }
        }).join();
        assertInstanceOf(IllegalStateException.class, failure[0]);
        assertTrue(failure[0].getMessage().contains("virtual thread"), failure[0].getMessage());
        assertInstanceOf(IllegalStateException.class, failure[1]);
        assertNull(failure[2]);
        assertTrue(Autograd.isGradEnabled());
    }

    @Test
    void detachAndGradAccessors() {
        try (Scope scope = Scope.open()) {
            Tensor w = Tensor.ones(DType.FLOAT32, org.panamasd.Device.CPU, 3).requiresGrad(true);
            assertNull(w.grad());
            w.mul(w).sum().backward();
            assertClose(new double[] {2, 2, 2}, w.grad().toDoubleArray(), 0, 0);
            w.zeroGrad();
            assertNull(w.grad());
            assertFalse(w.detach().requiresGrad());
        }
    }
}
