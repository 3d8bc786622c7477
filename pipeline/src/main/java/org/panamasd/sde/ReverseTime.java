package org.panamasd.sde;

import java.util.function.UnaryOperator;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/** The time grid of the reverse samplers, and the per-step scope that frees each step's temporaries. */
final class ReverseTime {

    /** linspace(T, eps, steps): the times at which the reverse samplers evaluate the score. */
    static double[] grid(Sde sde, int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        double[] t = new double[steps];
        for (int i = 0; i < steps; i++) t[i] = steps == 1 ? sde.T() : sde.T() + i * (sde.eps() - sde.T()) / (steps - 1);
        return t;
    }

    /** Runs one step in its own scope; the new state moves out to the caller's scope. */
    static Tensor step(UnaryOperator<Tensor> body, Tensor x) {
        try (Scope step = Scope.open()) {
            return body.apply(x).moveToParent();
        }
    }

    private ReverseTime() {}
}
