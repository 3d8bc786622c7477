package org.panamasd.training.add;

import org.panamasd.Generator;
import org.panamasd.Tensor;

/**
 * The student side of an ADD run (Sauer et al. 2023): the student's timesteps, the distillation weight lambda
 * and weighting c(t), the teacher's classifier-free guidance in its target (1 = none), the student's learning
 * rate (Adam) and EMA decay, and how the discriminator's updates are scheduled around the student's: k
 * discriminator steps per student step, after a warm-up of iterations in which only the discriminator learns
 * (the student draws, frozen); and the weight of DMD's regression on the teacher's noise-to-image pairs
 * ({@link RegressionPairs}; 0 = none, as the paper's ADD). The discriminator's own settings are
 * {@link DiscriminatorTrainer}'s.
 */
public record AddConfig(long[] studentTimesteps, double lambda, DistillationWeighting weighting, double teacherGuidance,
                        double studentLearningRate, double emaDecay, int discriminatorSteps, int discriminatorWarmup, double regressionWeight) {

    public AddConfig {
        if (studentTimesteps.length == 0) throw new IllegalArgumentException("ADD needs at least one student timestep");
        if (lambda < 0) throw new IllegalArgumentException("lambda must be >= 0, got " + lambda);
        if (discriminatorSteps < 1) throw new IllegalArgumentException("discriminator steps per student step must be >= 1, got " + discriminatorSteps);
        if (discriminatorWarmup < 0) throw new IllegalArgumentException("discriminator warm-up must be >= 0, got " + discriminatorWarmup);
        if (!(regressionWeight >= 0)) throw new IllegalArgumentException("the regression weight must be >= 0, got " + regressionWeight);
        studentTimesteps = studentTimesteps.clone();
    }

    /** Without the regression term (the paper's ADD). */
    public AddConfig(long[] studentTimesteps, double lambda, DistillationWeighting weighting, double teacherGuidance,
                     double studentLearningRate, double emaDecay, int discriminatorSteps, int discriminatorWarmup) {
        this(studentTimesteps, lambda, weighting, teacherGuidance, studentLearningRate, emaDecay, discriminatorSteps, discriminatorWarmup, 0);
    }

    public AddConfig withRegressionWeight(double weight) {
        return new AddConfig(studentTimesteps, lambda, weighting, teacherGuidance, studentLearningRate, emaDecay, discriminatorSteps,
                discriminatorWarmup, weight);
    }

    /** A student timestep per sample, each drawn uniformly from {@link #studentTimesteps()} with {@code generator}. */
    public long[] drawStudentTimesteps(int batch, Generator generator) {
        long[] pick = Tensor.randint(0, studentTimesteps.length, generator, batch).toLongArray();
        long[] s = new long[batch];
        for (int i = 0; i < batch; i++) s[i] = studentTimesteps[(int) pick[i]];
        return s;
    }

    /** The paper's choices at this scale: {999, 749, 499, 249}, lambda 2.5, c(t) = alpha-bar_t, teacher CFG 3; 1:1 updates, no warm-up. */
    public static AddConfig defaults() {
        return new AddConfig(new long[] {999, 749, 499, 249}, 2.5, DistillationWeighting.EXPONENTIAL, 3.0, 2e-5, 0.99, 1, 0);
    }
}
