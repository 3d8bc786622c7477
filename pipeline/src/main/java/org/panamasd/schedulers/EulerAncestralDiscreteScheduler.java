package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Ancestral Euler sampling in sigma space (k-diffusion's sample_euler_ancestral): each step goes down to
 * sigma_down by an Euler step and adds fresh noise of std sigma_up, with
 * sigma_up = sqrt(s_to^2 (s_from^2 - s_to^2) / s_from^2) and sigma_down = sqrt(s_to^2 - sigma_up^2).
 */
public final class EulerAncestralDiscreteScheduler extends SigmaScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "prediction_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr");

    public EulerAncestralDiscreteScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("EulerAncestralDiscreteScheduler", FIELDS);
        if (prediction == PredictionType.SAMPLE) throw config.invalid("prediction_type", "sample", "epsilon or v_prediction");
    }

    @Override
    public void setTimesteps(int steps) {
        this.timesteps = spacedTimesteps(steps);
        this.sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) sigmas[i] = (float) SigmaSteps.interp(timesteps[i], trainingSigmas);
        position.reset();
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        int i = index(timestep);
        Tensor x = sample.dtype() == DType.FLOAT32 ? sample : sample.to(DType.FLOAT32);
        double sigma = sigmas[i];
        Tensor x0 = originalSample(modelOutput, x, sigma, sigma);
        // In float32 as the reference computes them: sigma_down = sqrt(to^2 - up^2) cancels badly when
        // sigma_from is large (zero terminal SNR starts at ~4096), and the reference's rounding is the target.
        float from = (float) sigmas[i], to = (float) sigmas[i + 1];
        float up = (float) Math.sqrt(to * to * (from * from - to * to) / (from * from));
        float down = (float) Math.sqrt(to * to - up * up);
        Tensor derivative = x.sub(x0).div(sigma);
        Tensor prev = x.add(derivative.mul(down - (float) sigma));
        // drawn on every step, the last (sigma_up = 0) included, as the reference does
        Tensor z = noise.next(modelOutput.shape(), modelOutput.dtype(), modelOutput.device());
        prev = prev.add(z.mul(up)).to(modelOutput.dtype());
        position.advance();
        return new StepOutput(prev, x0);
    }
}
