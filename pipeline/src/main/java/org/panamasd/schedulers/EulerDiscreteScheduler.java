package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * Euler's method on the probability-flow ODE in sigma space (Karras et al. 2022, Algorithm 2, with optional
 * churn): d = (x - x_0) / sigma, x_{i+1} = x_i + d (sigma_{i+1} - sigma_i). The model sees
 * x / sqrt(sigma^2 + 1), the VP input at that noise level.
 */
public final class EulerDiscreteScheduler implements Scheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "prediction_type", "interpolation_type", "use_karras_sigmas", "sigma_min", "sigma_max", "timestep_spacing",
            "timestep_type", "steps_offset", "rescale_betas_zero_snr");

    private final NoiseSchedule schedule;
    private final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final boolean karras;
    private final boolean logLinear;
    private final boolean continuousTimesteps;
    private final Double sigmaMin, sigmaMax;
    private final double[] trainingSigmas;
    private double churn, churnTmin, churnTmax = Double.POSITIVE_INFINITY, churnNoise = 1.0;
    private double[] timesteps;
    private double[] sigmas;
    private int stepIndex = -1;

    public EulerDiscreteScheduler(SchedulerConfig config) {
        config.warnUnknown("EulerDiscreteScheduler", FIELDS);
        this.schedule = NoiseSchedule.fromConfig(config);
        this.prediction = PredictionType.fromConfigName(config.string("prediction_type", "epsilon"));
        this.spacing = TimestepSpacing.fromConfigName(config.string("timestep_spacing", "linspace"));
        this.stepsOffset = config.integer("steps_offset", 0);
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
        this.trainingSigmas = SigmaSteps.trainingSigmas(schedule, config.bool("rescale_betas_zero_snr", false));
        int trainSteps = schedule.trainTimesteps();
        this.timesteps = new double[trainSteps];
        this.sigmas = new double[trainSteps + 1];
        for (int i = 0; i < trainSteps; i++) {
            timesteps[i] = trainSteps - 1 - i;
            sigmas[i] = trainingSigmas[trainSteps - 1 - i];
        }
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
        TimestepSpacing.checkSteps(steps, schedule.trainTimesteps());
        double[] t = spacing.timesteps(schedule.trainTimesteps(), steps, stepsOffset);
        for (int i = 0; i < t.length; i++) t[i] = spacing == TimestepSpacing.LINSPACE ? (float) t[i] : Math.rint(t[i]);
        TimestepSpacing.checkRange(t, schedule.trainTimesteps(), spacing, stepsOffset);
        double[] s = new double[steps];
        if (logLinear) {
            double[] line = TimestepSpacing.linspace(Math.log(trainingSigmas[trainingSigmas.length - 1]), Math.log(trainingSigmas[0]), steps + 1);
            for (int i = 0; i < steps; i++) s[i] = Math.exp(line[i]);
        } else {
            for (int i = 0; i < steps; i++) s[i] = SigmaSteps.interp(t[i], trainingSigmas);
        }
        if (karras) {
            double min = sigmaMin != null ? sigmaMin : s[steps - 1], max = sigmaMax != null ? sigmaMax : s[0];
            s = SigmaSteps.karras(min, max, steps);
            double[] logSigmas = SigmaSteps.logs(trainingSigmas);
            for (int i = 0; i < steps; i++) t[i] = (float) SigmaSteps.sigmaToT(s[i], logSigmas);
        }
        this.sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) sigmas[i] = (float) s[i];
        this.timesteps = new double[steps];
        for (int i = 0; i < steps; i++) timesteps[i] = continuousTimesteps ? (float) (0.25 * Math.log(sigmas[i])) : (float) t[i];
        this.stepIndex = -1;
    }

    @Override
    public double[] timesteps() {
        return timesteps.clone();
    }

    /** sigma_0, ..., sigma_{N-1}, 0. */
    public double[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public double initNoiseSigma() {
        double max = 0;
        for (double s : sigmas) max = Math.max(max, s);
        return spacing == TimestepSpacing.LEADING ? Math.sqrt(max * max + 1) : max;
    }

    private int index(double timestep) {
        if (stepIndex < 0) stepIndex = SigmaSteps.indexOf(timesteps, timestep);
        return stepIndex;
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        double sigma = sigmas[index(timestep)];
        return sample.div(Math.sqrt(sigma * sigma + 1));
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

        Tensor x0 = switch (prediction) {
            case SAMPLE -> modelOutput;
            case EPSILON -> x.sub(modelOutput.mul(sigmaHat));
            case V_PREDICTION -> modelOutput.mul(-sigma / Math.sqrt(sigma * sigma + 1)).add(x.div(sigma * sigma + 1));
        };
        Tensor derivative = x.sub(x0).div(sigmaHat);
        double dt = sigmas[i + 1] - sigmaHat;
        Tensor prev = x.add(derivative.mul(dt)).to(modelOutput.dtype());
        stepIndex++;
        return new StepOutput(prev, x0);
    }

    /** x_0 + sigma(t) eps, with each t looked up in the current schedule. */
    @Override
    public Tensor addNoise(Tensor original, Tensor noise, double[] timesteps) {
        double[] rows = new double[timesteps.length];
        for (int r = 0; r < rows.length; r++) rows[r] = sigmas[SigmaSteps.indexOf(this.timesteps, timesteps[r])];
        return original.add(noise.mul(SigmaSteps.perRow(rows, original)));
    }

    @Override
    public NoiseSchedule schedule() {
        return schedule;
    }

    @Override
    public PredictionType predictionType() {
        return prediction;
    }
}
