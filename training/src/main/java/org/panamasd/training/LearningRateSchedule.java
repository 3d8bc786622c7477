package org.panamasd.training;

/** Linear warm-up to the peak rate, then cosine decay to {@code floor} x peak at the last step. */
public record LearningRateSchedule(double peak, long warmupSteps, long totalSteps, double floor) {

    public LearningRateSchedule {
        if (!(peak > 0)) throw new IllegalArgumentException("learning rate must be > 0, got " + peak);
        if (totalSteps < 1 || warmupSteps < 0) throw new IllegalArgumentException("steps must be >= 1 and warm-up >= 0");
    }

    /** The rate of step {@code step} (1-based). */
    public double at(long step) {
        if (step <= warmupSteps) return peak * step / Math.max(1, warmupSteps);
        double progress = Math.min(1.0, (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
        return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
}
