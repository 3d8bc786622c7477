package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Denoising diffusion implicit models (Song et al. 2021): the non-Markovian reverse step of DDIM eq. (12),
 * x_{t-1} = sqrt(a_{t-1}) x_0 + sqrt(1 - a_{t-1} - sigma_t^2) eps + sigma_t z, with
 * sigma_t = eta sqrt((1 - a_{t-1}) / (1 - a_t)) sqrt(1 - a_t / a_{t-1}) (DDIM eq. 16). eta = 0 is
 * deterministic, eta = 1 is DDPM's ancestral sampler.
 */
public final class DDIMScheduler extends AlphaBarScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "clip_sample", "set_alpha_to_one", "steps_offset", "prediction_type", "thresholding", "dynamic_thresholding_ratio",
            "clip_sample_range", "sample_max_value", "timestep_spacing", "rescale_betas_zero_snr");

    private final SampleClipping clipping;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final double finalAlphaCumprod;
    private double eta;
    private int numInferenceSteps;

    public DDIMScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("DDIMScheduler", FIELDS);
        this.clipping = SampleClipping.fromConfig(config, true);
        this.spacing = TimestepSpacing.fromConfigName(config.string("timestep_spacing", "leading"));
        this.stepsOffset = config.integer("steps_offset", 0);
        // the alpha-bar "before" t = 0: 1 (a clean image) or alpha-bar_0
        this.finalAlphaCumprod = config.bool("set_alpha_to_one", true) ? 1.0 : schedule.alphaCumprod(0);
        this.numInferenceSteps = schedule.trainTimesteps();
    }

    /** The stochasticity eta of DDIM eq. (16): 0 deterministic (default), 1 DDPM-like. */
    public DDIMScheduler eta(double eta) {
        if (!(eta >= 0)) throw new IllegalArgumentException("eta must be >= 0, got " + eta);
        this.eta = eta;
        return this;
    }

    public double finalAlphaCumprod() {
        return finalAlphaCumprod;
    }

    @Override
    public void setTimesteps(int steps) {
        this.timesteps = integerTimesteps(spacing, steps, stepsOffset);
        this.numInferenceSteps = steps;
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        int t = AlphaBarTimesteps.index(timestep, schedule);
        int prevT = t - schedule.trainTimesteps() / numInferenceSteps;
        double alphaProd = schedule.alphaCumprod(t);
        double alphaProdPrev = prevT >= 0 ? schedule.alphaCumprod(prevT) : finalAlphaCumprod;
        double betaProd = 1 - alphaProd;
        double a = Math.sqrt(alphaProd), s = Math.sqrt(betaProd);

        // "predicted x_0" and "direction pointing to x_t" of DDIM eq. (12)
        Tensor x0 = clipping.apply(prediction.originalSample(modelOutput, sample, a, s));
        Tensor eps = prediction.epsilon(modelOutput, sample, a, s);

        double variance = (1 - alphaProdPrev) / betaProd * (1 - alphaProd / alphaProdPrev);
        double sigma = eta * Math.sqrt(variance);
        Tensor prev = x0.mul(Math.sqrt(alphaProdPrev)).add(eps.mul(Math.sqrt(1 - alphaProdPrev - sigma * sigma)));
        if (eta > 0) prev = prev.add(noise.next(modelOutput.shape(), modelOutput.dtype(), modelOutput.device()).mul(sigma));
        return new StepOutput(prev, x0);
    }
}
