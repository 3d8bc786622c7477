package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * Ancestral Euler sampling in sigma space (k-diffusion's sample_euler_ancestral): each step goes down to
 * sigma_down by an Euler step and adds fresh noise of std sigma_up, with
 * sigma_up = sqrt(s_to^2 (s_from^2 - s_to^2) / s_from^2) and sigma_down = sqrt(s_to^2 - sigma_up^2).
 */
public final class EulerAncestralDiscreteScheduler implements Scheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "prediction_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr");

    private final NoiseSchedule schedule;
    private final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final double[] trainingSigmas;
    private double[] timesteps;
    private double[] sigmas;
    private int stepIndex = -1;

    public EulerAncestralDiscreteScheduler(SchedulerConfig config) {
        config.warnUnknown("EulerAncestralDiscreteScheduler", FIELDS);
        this.schedule = NoiseSchedule.fromConfig(config);
        this.prediction = PredictionType.fromConfigName(config.string("prediction_type", "epsilon"));
        if (prediction == PredictionType.SAMPLE) throw config.invalid("prediction_type", "sample", "epsilon or v_prediction");
        this.spacing = TimestepSpacing.fromConfigName(config.string("timestep_spacing", "linspace"));
        this.stepsOffset = config.integer("steps_offset", 0);
        this.trainingSigmas = SigmaSteps.trainingSigmas(schedule, config.bool("rescale_betas_zero_snr", false));
        int trainSteps = schedule.trainTimesteps();
        this.timesteps = new double[trainSteps];
        this.sigmas = new double[trainSteps + 1];
        for (int i = 0; i < trainSteps; i++) {
            timesteps[i] = trainSteps - 1 - i;
            sigmas[i] = trainingSigmas[trainSteps - 1 - i];
        }
    }

    @Override
    public void setTimesteps(int steps) {
        TimestepSpacing.checkSteps(steps, schedule.trainTimesteps());
        double[] t = spacing.timesteps(schedule.trainTimesteps(), steps, stepsOffset);
        TimestepSpacing.checkRange(t, schedule.trainTimesteps(), spacing, stepsOffset);
        this.timesteps = new double[steps];
        this.sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) {
            timesteps[i] = spacing == TimestepSpacing.LINSPACE ? (float) t[i] : Math.rint(t[i]);
            sigmas[i] = (float) SigmaSteps.interp(timesteps[i], trainingSigmas);
        }
        this.stepIndex = -1;
    }

    @Override
    public double[] timesteps() {
        return timesteps.clone();
    }

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
        Tensor x0 = prediction == PredictionType.EPSILON
                ? x.sub(modelOutput.mul(sigma))
                : modelOutput.mul(-sigma / Math.sqrt(sigma * sigma + 1)).add(x.div(sigma * sigma + 1));
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
        stepIndex++;
        return new StepOutput(prev, x0);
    }

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
