package org.panamasd.training;

/** Stops training on a NaN or infinite loss, naming the step and the term: continuing would only spread the NaN. */
public final class LossCheck {

    public static double finite(String term, double value, long step) {
        if (!Double.isFinite(value))
            throw new ArithmeticException("training diverged: loss term '" + term + "' is " + value + " at step " + step
                    + " (lower the learning rate, or resume from the last checkpoint)");
        return value;
    }

    private LossCheck() {}
}
