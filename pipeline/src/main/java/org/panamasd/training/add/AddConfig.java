package org.panamasd.training.add;

/**
 * The settings of an ADD run (Sauer et al. 2023): the student's timesteps, the distillation weight lambda and
 * weighting c(t), the R1 weight gamma (on mean-reduced logits, see {@link AdversarialLosses#r1Penalty}), the
 * teacher's classifier-free guidance in its target (1 = none), the learning rates (Adam, beta1 = 0 for the
 * discriminator), the student's EMA decay and whether to augment the discriminator's inputs.
 */
public record AddConfig(long[] studentTimesteps, double lambda, DistillationWeighting weighting, double gamma, double teacherGuidance,
                        double studentLearningRate, double discriminatorLearningRate, double emaDecay, boolean augment) {

    public AddConfig {
        if (studentTimesteps.length == 0) throw new IllegalArgumentException("ADD needs at least one student timestep");
        if (lambda < 0 || gamma < 0) throw new IllegalArgumentException("lambda and gamma must be >= 0");
        studentTimesteps = studentTimesteps.clone();
    }

    /** The paper's choices at this scale: {999, 749, 499, 249}, lambda 2.5, c(t) = alpha-bar_t, gamma 1, teacher CFG 3. */
    public static AddConfig defaults() {
        return new AddConfig(new long[] {999, 749, 499, 249}, 2.5, DistillationWeighting.EXPONENTIAL, 1.0, 3.0, 2e-5, 1e-4, 0.99, true);
    }
}
