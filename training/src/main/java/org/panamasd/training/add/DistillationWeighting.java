package org.panamasd.training.add;

/**
 * c(t) of ADD's distillation loss (Sauer et al. 2023, eq. 4 and appendix): how much the teacher's target at
 * re-noising level t counts. With x_t = a x_0 + s eps (a^2 = alpha-bar_t, s^2 = 1 - alpha-bar_t):
 */
public enum DistillationWeighting {
    /** c(t) = alpha-bar_t: high-noise targets (mostly the teacher's prior) count little; the paper's default. */
    EXPONENTIAL("exponential"),
    /** c(t) = a s / 2: the score-distillation weighting (w(t) = s^2 times SDS's a / 2s), which peaks at mid noise. */
    SDS("sds"),
    /** c(t) = 1. */
    UNIFORM("uniform"),
    /**
     * c(t) = s / 2 with NFSD's noise-free target ({@link NoiseFreeScoreDistillation}) in place of the teacher's
     * prediction: the gradient is SDS's, s^2 (delta_D + g delta_C), without the noise term.
     */
    NFSD("nfsd");

    private final String name;

    DistillationWeighting(String name) {
        this.name = name;
    }

    public static DistillationWeighting fromName(String name) {
        for (DistillationWeighting w : values()) if (w.name.equals(name)) return w;
        throw new IllegalArgumentException("unknown distillation weighting '" + name + "' (exponential, sds, uniform or nfsd)");
    }

    public double weight(double alphaBar) {
        return switch (this) {
            case EXPONENTIAL -> alphaBar;
            case SDS -> Math.sqrt(alphaBar * (1 - alphaBar)) / 2;
            case UNIFORM -> 1.0;
            case NFSD -> Math.sqrt(1 - alphaBar) / 2;
        };
    }
}
