package org.panamasd.training.score;

import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.sde.AnnealedLangevin;
import org.panamasd.sde.NoiseLadder;
import org.panamasd.sde.PredictorCorrector;
import org.panamasd.sde.ProbabilityFlowOde;
import org.panamasd.sde.ScoreFunction;

/**
 * The samplers of a score model, by the name the command line uses: {@code langevin} (annealed Langevin
 * dynamics over an NCSN model's ladder; steps = steps per level), {@code pc} (predictor-corrector, reverse
 * diffusion + one Langevin corrector step at signal-to-noise ratio 0.16, the paper's CIFAR-10 VE setting;
 * steps = predictor steps, 2 score evaluations each) and {@code ode} (the probability-flow ODE, Heun; steps =
 * Heun steps, 2 evaluations each), both over a VE or VP model's SDE.
 */
public enum ScoreSampler {
    LANGEVIN, PC, ODE;

    /** NCSN's step size epsilon for annealed Langevin (Song and Ermon 2019, section 5: 2e-5 with sigma_L = 0.01). */
    static final double LANGEVIN_STEP = 2e-5;
    static final double PC_SNR = 0.16;

    public static ScoreSampler parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("sampler must be langevin, pc or ode, got '" + name + "'");
        }
    }

    /** Annealed Langevin for an NCSN ladder, predictor-corrector for an SDE. */
    public static ScoreSampler defaultFor(ScoreModelConfig config) {
        return config.isLadder() ? LANGEVIN : PC;
    }

    /** Draws x_0 from {@code standardNoise} (N(0, I), scaled here to the prior's std) with {@code steps} steps. */
    public Tensor sample(ScoreModelConfig config, ScoreFunction score, Tensor standardNoise, int steps, NoiseSource noise) {
        if ((this == LANGEVIN) != config.isLadder())
            throw new IllegalArgumentException(name().toLowerCase(java.util.Locale.ROOT) + " does not sample a " + config.kind()
                    + " model (langevin: ncsn; pc, ode: ve, vp)");
        Tensor xT = standardNoise.mul(config.priorStd());
        return switch (this) {
            case LANGEVIN -> new AnnealedLangevin(NoiseLadder.geometric(config.sigmaMin(), config.sigmaMax(), config.levels()), steps, LANGEVIN_STEP)
                    .sample(xT, score, noise);
            case PC -> new PredictorCorrector(config.sde(), steps, PC_SNR, 1).sample(xT, score, noise);
            case ODE -> ProbabilityFlowOde.heun(config.sde(), steps).sample(xT, score);
        };
    }
}
