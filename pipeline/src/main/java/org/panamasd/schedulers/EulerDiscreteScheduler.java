package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Euler's method on the probability-flow ODE in sigma space (Karras et al. 2022, Algorithm 2, with optional
 * churn): d = (x - x_0) / sigma, x_{i+1} = x_i + d (sigma_{i+1} - sigma_i). The model sees
 * x / sqrt(sigma^2 + 1), the VP input at that noise level.
 */
public final class EulerDiscreteScheduler extends SigmaScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "prediction_type", "interpolation_type", "use_karras_sigmas", "sigma_min", "sigma_max", "timestep_spacing",
            "timestep_type", "steps_offset", "rescale_betas_zero_snr");

    private final boolean karras;
    private final boolean logLinear;
    private final boolean continuousTimesteps;
    private final Double sigmaMin, sigmaMax;
    private double churn, churnTmin, churnTmax = Double.POSITIVE_INFINITY, churnNoise = 1.0;

    public EulerDiscreteScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("EulerDiscreteScheduler", FIELDS);
        this.karras = config.bool("use_karras_sigmas", false);
        String interpolation = config.string("interpolation_type", "linear");
        if (!interpolation.equals("linear") && !interpolation.equals("log_linear"))
            throw config.invalid("interpolation_type", interpolation, "linear or log_linear");
        this.logLinear = interpolation.equals("log_linear");
        String timestepType = config.string("timestep_type", "discrete");
        if (!timestepType.equals("discrete") && !timestepType.equals("continuous"))
            throw config.invalid("timestep_type", timestepType, "discrete or continuous");
        this.continuousTimesteps = timestepType.equals("continuous") && prediction == PredictionType.V_PREDICTION;
        this.sigmaMin = config.optionalNumber("sigma_min");
        this.sigmaMax = config.optionalNumber("sigma_max");
    }

    /** Stochastic churn (Karras Algorithm 2): gamma = min(churn / N, sqrt(2) - 1) for sigma in [tmin, tmax]. */
    public EulerDiscreteScheduler churn(double churn, double tmin, double tmax, double noise) {
        this.churn = churn;
        this.churnTmin = tmin;
        this.churnTmax = tmax;
        this.churnNoise = noise;
        return this;
    }

    @Override
    public void setTimesteps(int steps) {
        double[] t = spacedTimesteps(steps);
        double[] s = new double[steps];
        if (logLinear) {
            double[] line = TimestepSpacing.linspace(Math.log(trainingSigmas[trainingSigmas.length - 1]), Math.log(trainingSigmas[0]), steps + 1);
            for (int i = 0; i < steps; i++) s[i] = Math.exp(line[i]);
        } else {
            s = interpolatedSigmas(t);
        }
        if (karras) {
            double min = sigmaMin != null ? sigmaMin : s[steps - 1], max = sigmaMax != null ? sigmaMax : s[0];
            s = SigmaSteps.karras(min, max, steps);
            t = timestepsOf(s);  // cast to float32 below, with the others
        }
        this.sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) sigmas[i] = (float) s[i];
        this.timesteps = new double[steps];
        for (int i = 0; i < steps; i++) timesteps[i] = continuousTimesteps ? (float) (0.25 * Math.log(sigmas[i])) : (float) t[i];
        position.reset();
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        int i = index(timestep);
        Tensor x = sample.dtype() == DType.FLOAT32 ? sample : sample.to(DType.FLOAT32);
        double sigma = sigmas[i];
        double gamma = churnTmin <= sigma && sigma <= churnTmax ? Math.min(churn / (sigmas.length - 1), Math.sqrt(2) - 1) : 0.0;
        // drawn on every step, used or not, so that a seeded run consumes the generator as the reference does
        Tensor eps = noise.next(modelOutput.shape(), modelOutput.dtype(), modelOutput.device()).mul(churnNoise);
        double sigmaHat = sigma * (gamma + 1);
        if (gamma > 0) x = x.add(eps.mul(Math.sqrt(sigmaHat * sigmaHat - sigma * sigma)));

        Tensor x0 = originalSample(modelOutput, x, sigma, sigmaHat);
        Tensor derivative = x.sub(x0).div(sigmaHat);
        double dt = sigmas[i + 1] - sigmaHat;
        Tensor prev = x.add(derivative.mul(dt)).to(modelOutput.dtype());
        position.advance();
        return new StepOutput(prev, x0);
    }

}
