package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Denoising diffusion probabilistic models (Ho et al. 2020): ancestral sampling from the posterior
 * q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I) with x_0 predicted by the model (design notes, eq. 10-12).
 * With fewer inference steps than training steps the posterior spans from t to t - T/N.
 */
public final class DDPMScheduler extends AlphaBarScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "variance_type", "clip_sample", "clip_sample_range", "prediction_type", "thresholding", "dynamic_thresholding_ratio",
            "sample_max_value", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr");

    /** The variance of p(x_{t-1} | x_t): beta~_t (fixed_small, eq. 12) or beta_t (fixed_large), or their logs. */
    public enum VarianceType { FIXED_SMALL, FIXED_SMALL_LOG, FIXED_LARGE, FIXED_LARGE_LOG }

    private final SampleClipping clipping;
    private final VarianceType varianceType;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private int numInferenceSteps;

    public DDPMScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("DDPMScheduler", FIELDS);
        this.clipping = SampleClipping.fromConfig(config, true);
        this.varianceType = switch (config.string("variance_type", "fixed_small")) {
            case "fixed_small" -> VarianceType.FIXED_SMALL;
            case "fixed_small_log" -> VarianceType.FIXED_SMALL_LOG;
            case "fixed_large" -> VarianceType.FIXED_LARGE;
            case "fixed_large_log" -> VarianceType.FIXED_LARGE_LOG;
            default -> throw config.invalid("variance_type", config.string("variance_type", ""),
                    "fixed_small, fixed_small_log, fixed_large or fixed_large_log (learned variances need a model that predicts them)");
        };
        this.spacing = TimestepSpacing.fromConfigName(config.string("timestep_spacing", "leading"));
        this.stepsOffset = config.integer("steps_offset", 0);
        this.numInferenceSteps = schedule.trainTimesteps();
    }

    @Override
    public void setTimesteps(int steps) {
        this.timesteps = integerTimesteps(spacing, steps, stepsOffset);
        this.numInferenceSteps = steps;
    }

    /** The timestep the posterior steps to: t - T / N (not the next entry of timesteps()). */
    int previousTimestep(int t) {
        return t - schedule.trainTimesteps() / numInferenceSteps;
    }

    private double alphaCumprodOrOne(int t) {
        return t >= 0 ? schedule.alphaCumprod(t) : 1.0;
    }

    /** beta~_t of eq. (12) between t and its previous timestep, floored at 1e-20. */
    double posteriorVariance(int t) {
        double alphaProd = schedule.alphaCumprod(t), alphaProdPrev = alphaCumprodOrOne(previousTimestep(t));
        double currentBeta = 1 - alphaProd / alphaProdPrev;
        return Math.max((1 - alphaProdPrev) / (1 - alphaProd) * currentBeta, 1e-20);
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        int t = AlphaBarTimesteps.index(timestep, schedule);
        int prevT = previousTimestep(t);
        double alphaProd = schedule.alphaCumprod(t), alphaProdPrev = alphaCumprodOrOne(prevT);
        double betaProd = 1 - alphaProd, betaProdPrev = 1 - alphaProdPrev;
        double currentAlpha = alphaProd / alphaProdPrev, currentBeta = 1 - currentAlpha;

        // eq. (16): x_0 from the model output, then clipped or thresholded
        Tensor x0 = clipping.apply(prediction.originalSample(modelOutput, sample, Math.sqrt(alphaProd), Math.sqrt(betaProd)));

        // eq. (11): the posterior mean mu~_t(x_t, x_0)
        double x0Coefficient = Math.sqrt(alphaProdPrev) * currentBeta / betaProd;
        double sampleCoefficient = Math.sqrt(currentAlpha) * betaProdPrev / betaProd;
        Tensor prev = x0.mul(x0Coefficient).add(sample.mul(sampleCoefficient));

        // x_{t-1} = mu~ + sigma z, no noise at t = 0
        if (t > 0) {
            Tensor z = noise.next(modelOutput.shape(), modelOutput.dtype(), modelOutput.device());
            double variance = posteriorVariance(t);
            double std = switch (varianceType) {
                case FIXED_SMALL -> Math.sqrt(variance);
                case FIXED_SMALL_LOG -> Math.exp(0.5 * Math.log(variance));
                case FIXED_LARGE -> Math.sqrt(currentBeta);
                case FIXED_LARGE_LOG -> Math.sqrt(Math.log(currentBeta));
            };
            prev = prev.add(z.mul(std));
        }
        return new StepOutput(prev, x0);
    }
}
