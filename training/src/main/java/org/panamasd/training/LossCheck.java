package org.panamasd.training;

/** Stops training on a NaN or infinite loss or gradient norm, naming the step (and the term): continuing would only spread the NaN. */
public final class LossCheck {

    public static double finite(String term, double value, long step) {
        if (!Double.isFinite(value))
            throw new ArithmeticException("training diverged: loss term '" + term + "' is " + value + " at step " + step
                    + " (lower the learning rate, or resume from the last checkpoint)");
        return value;
    }

    /**
     * Stops before an optimizer step on a NaN or infinite gradient norm. The loss of that step may be finite,
     * while clipping (a factor of maxNorm / inf = 0, times inf) and the step would write NaN into the weights.
     */
    public static double gradientNorm(double norm, long step) {
        if (!Double.isFinite(norm))
            throw new ArithmeticException("training diverged: the gradient norm is " + norm + " at step " + step
                    + "; the step was not applied (lower the learning rate, or resume from the last checkpoint)");
        return norm;
    }

    private LossCheck() {}
}
