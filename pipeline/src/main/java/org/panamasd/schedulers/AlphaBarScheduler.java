package org.panamasd.schedulers;

import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * What the schedulers that index alpha-bar by integer timestep share (DDPM, DDIM, LCM): the model sees x_t
 * unscaled, the prior is N(0, I), and the forward process is eq. (9) at the given timesteps.
 */
abstract class AlphaBarScheduler implements Scheduler {
    protected final NoiseSchedule schedule;
    protected final PredictionType prediction;
    protected double[] timesteps;

    AlphaBarScheduler(DiffusersConfig config) {
        this.schedule = NoiseSchedule.fromConfig(config);
        this.prediction = PredictionType.fromConfigName(config.string("prediction_type", "epsilon"));
        int trainSteps = schedule.trainTimesteps();
        this.timesteps = new double[trainSteps];
        for (int i = 0; i < trainSteps; i++) timesteps[i] = trainSteps - 1 - i;
    }

    /** The spacing's timesteps rounded to integers (numpy's half-to-even), checked to lie in [0, T). */
    double[] integerTimesteps(TimestepSpacing spacing, int steps, int stepsOffset) {
        TimestepSpacing.checkSteps(steps, schedule.trainTimesteps());
        double[] t = spacing.timesteps(schedule.trainTimesteps(), steps, stepsOffset);
        for (int i = 0; i < t.length; i++) t[i] = Math.rint(t[i]);
        TimestepSpacing.checkRange(t, schedule.trainTimesteps(), spacing, stepsOffset);
        return t;
    }

    @Override
    public double[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        return sample;
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, double[] timesteps) {
        return schedule.addNoise(original, noise, AlphaBarTimesteps.toIndices(timesteps, schedule));
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
