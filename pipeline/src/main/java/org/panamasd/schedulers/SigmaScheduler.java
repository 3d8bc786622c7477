package org.panamasd.schedulers;

import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * What the Euler schedulers share: they step in sigma space, the model sees x / sqrt(sigma^2 + 1), the prior
 * has std sigma_max (sqrt(sigma_max^2 + 1) with leading spacing, as the reference), and the forward process
 * is x_0 + sigma eps. The step index starts at the first timestep passed (or the begin index) and advances
 * with every step.
 */
abstract class SigmaScheduler implements Scheduler {
    protected final NoiseSchedule schedule;
    protected final PredictionType prediction;
    protected final TimestepSpacing spacing;
    protected final int stepsOffset;
    protected final double[] trainingSigmas;
    protected double[] timesteps;
    protected double[] sigmas;
    protected final StepIndex position = new StepIndex();

    SigmaScheduler(DiffusersConfig config) {
        this.schedule = NoiseSchedule.fromConfig(config);
        this.prediction = PredictionType.fromConfigName(config.string("prediction_type", "epsilon"));
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

    /** The spacing's timesteps: float32 for linspace (fractional), rounded for the others, checked in range. */
    double[] spacedTimesteps(int steps) {
        TimestepSpacing.checkSteps(steps, schedule.trainTimesteps());
        double[] t = spacing.timesteps(schedule.trainTimesteps(), steps, stepsOffset);
        for (int i = 0; i < t.length; i++) t[i] = spacing == TimestepSpacing.LINSPACE ? (float) t[i] : Math.rint(t[i]);
        TimestepSpacing.checkRange(t, schedule.trainTimesteps(), spacing, stepsOffset);
        return t;
    }

    /** sigma(t) at each (fractional) timestep, interpolated from the training sigmas in float64 as np.interp. */
    double[] interpolatedSigmas(double[] t) {
        double[] s = new double[t.length];
        for (int i = 0; i < t.length; i++) s[i] = SigmaSteps.interp(t[i], trainingSigmas);
        return s;
    }

    /** The fractional training timestep of each sigma (log-sigma interpolation), in float64. */
    double[] timestepsOf(double[] sigmas) {
        double[] logSigmas = SigmaSteps.logs(trainingSigmas);
        double[] t = new double[sigmas.length];
        for (int i = 0; i < t.length; i++) t[i] = SigmaSteps.sigmaToT(sigmas[i], logSigmas);
        return t;
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

    int index(double timestep) {
        return position.current(() -> SigmaSteps.indexOf(timesteps, timestep));
    }

    @Override
    public void setBeginIndex(int index) {
        position.begin(index, timesteps.length);
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        double sigma = sigmas[index(timestep)];
        return sample.div(Math.sqrt(sigma * sigma + 1));
    }

    /**
     * x_0 from the model output at x = x_0 + sigma eps (epsilon uses the churned sigma-hat); for v the model
     * saw x / sqrt(sigma^2 + 1), so x_0 = -sigma / sqrt(sigma^2 + 1) v + x / (sigma^2 + 1).
     */
    Tensor originalSample(Tensor modelOutput, Tensor x, double sigma, double sigmaHat) {
        return switch (prediction) {
            case SAMPLE -> modelOutput;
            case EPSILON -> x.sub(modelOutput.mul(sigmaHat));
            case V_PREDICTION -> modelOutput.mul(-sigma / Math.sqrt(sigma * sigma + 1)).add(x.div(sigma * sigma + 1));
        };
    }

    /** x_0 + sigma(t) eps, with each t looked up in the current schedule. */
    @Override
    public Tensor addNoise(Tensor original, Tensor noise, double[] timesteps) {
        double[] rows = new double[timesteps.length];
        for (int r = 0; r < rows.length; r++) {
            double t = timesteps[r];
            rows[r] = sigmas[position.forNoise(() -> SigmaSteps.indexOf(this.timesteps, t))];
        }
        return original.add(noise.mul(NoiseSchedule.rowsLike(rows, original)));
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
