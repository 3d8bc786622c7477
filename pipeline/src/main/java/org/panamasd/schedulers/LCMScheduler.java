package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Latent consistency models (Luo et al. 2023): each step maps x_t to the consistency function
 * f(x_t, t) = c_skip(t) x_t + c_out(t) x_0(x_t) and re-noises it to the next timestep, except the last.
 * The timesteps are taken from the distillation schedule of original_inference_steps (timestep_spacing is
 * not used, as in the reference).
 */
public final class LCMScheduler extends AlphaBarScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "original_inference_steps", "clip_sample", "clip_sample_range", "set_alpha_to_one", "steps_offset", "prediction_type",
            "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "timestep_spacing", "timestep_scaling",
            "rescale_betas_zero_snr");
    private static final double SIGMA_DATA = 0.5;

    private final SampleClipping clipping;
    private final int originalInferenceSteps;
    private final double timestepScaling;
    private final double finalAlphaCumprod;
    private final StepIndex position = new StepIndex();

    public LCMScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("LCMScheduler", FIELDS);
        this.clipping = SampleClipping.fromConfig(config, false);
        this.originalInferenceSteps = config.integer("original_inference_steps", 50);
        if (originalInferenceSteps < 1 || originalInferenceSteps > schedule.trainTimesteps())
            throw config.invalid("original_inference_steps", originalInferenceSteps, "a count in [1, num_train_timesteps]");
        this.timestepScaling = config.number("timestep_scaling", 10.0);
        this.finalAlphaCumprod = config.bool("set_alpha_to_one", true) ? 1.0 : schedule.alphaCumprod(0);
    }

    public double finalAlphaCumprod() {
        return finalAlphaCumprod;
    }

    @Override
    public void setTimesteps(int steps) {
        setTimesteps(steps, 1.0);
    }

    /** With strength < 1 (img2img) only the first strength * original_inference_steps candidates are used. */
    public void setTimesteps(int steps, double strength) {
        if (steps < 1) throw new IllegalArgumentException("num_inference_steps must be at least 1, got " + steps);
        if (steps > originalInferenceSteps)
            throw new IllegalArgumentException("num_inference_steps " + steps + " exceeds original_inference_steps " + originalInferenceSteps);
        int k = schedule.trainTimesteps() / originalInferenceSteps;
        int candidates = (int) (originalInferenceSteps * strength);
        if (candidates / steps < 1)
            throw new IllegalArgumentException("strength " + strength + " leaves " + candidates + " candidate timesteps for " + steps + " steps");
        // candidates, descending: (L, L-1, ..., 1) * k - 1; step i takes floor(i * L / N) of them
        double[] t = new double[steps];
        double stride = (double) candidates / steps;
        for (int i = 0; i < steps; i++) {
            int index = (int) Math.floor(i * stride);
            t[i] = (double) (candidates - index) * k - 1;
        }
        this.timesteps = t;
        position.reset();
    }

    @Override
    public void setBeginIndex(int index) {
        position.begin(index, timesteps.length);
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        int t = AlphaBarTimesteps.index(timestep, schedule);
        int stepIndex = position.current(() -> SigmaSteps.indexOf(timesteps, timestep));
        int prevIndex = stepIndex + 1;
        int prevT = prevIndex < timesteps.length ? (int) timesteps[prevIndex] : t;
        double alphaProd = schedule.alphaCumprod(t);
        double alphaProdPrev = prevT >= 0 ? schedule.alphaCumprod(prevT) : finalAlphaCumprod;

        // boundary-condition scalings of the consistency function, with sigma_data = 0.5
        double scaled = (float) (t * timestepScaling);
        double cSkip = SIGMA_DATA * SIGMA_DATA / (scaled * scaled + SIGMA_DATA * SIGMA_DATA);
        double cOut = scaled / Math.sqrt(scaled * scaled + SIGMA_DATA * SIGMA_DATA);

        Tensor x0 = clipping.apply(prediction.originalSample(modelOutput, sample, Math.sqrt(alphaProd), Math.sqrt(1 - alphaProd)));
        Tensor denoised = x0.mul(cOut).add(sample.mul(cSkip));
        Tensor prev = denoised;
        if (stepIndex != timesteps.length - 1) {
            Tensor z = noise.next(modelOutput.shape(), modelOutput.dtype(), modelOutput.device());
            prev = denoised.mul(Math.sqrt(alphaProdPrev)).add(z.mul(Math.sqrt(1 - alphaProdPrev)));
        }
        position.advance();
        return new StepOutput(prev, denoised);
    }
}
