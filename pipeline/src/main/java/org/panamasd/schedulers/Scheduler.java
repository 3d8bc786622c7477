package org.panamasd.schedulers;

import org.panamasd.Tensor;

/**
 * A discrete-time sampler over a trained noise schedule, with diffusers' API: {@link #setTimesteps},
 * {@link #scaleModelInput}, {@link #step} and {@link #addNoise}. A sampling loop:
 *
 * {@snippet :
 * scheduler.setTimesteps(steps);
 * Tensor x = noise.mul(scheduler.initNoiseSigma());
 * for (double t : scheduler.timesteps()) {
 *     try (Scope step = Scope.open()) {
 *         Tensor eps = unet.forward(scheduler.scaleModelInput(x, t), t, context);
 *         x = scheduler.step(eps, t, x, noiseSource).prevSample().moveToParent();
 *     }
 * }
 * }
 *
 * Tensors are made in the current scope; state a multistep scheduler keeps between steps lives in its own
 * scope until the next {@link #setTimesteps} or {@link #close}.
 */
public interface Scheduler extends AutoCloseable {

    /** Picks the inference timesteps; resets any state of a previous run. */
    void setTimesteps(int numInferenceSteps);

    /** The inference timesteps, descending (fractional for the sigma-space schedulers). */
    double[] timesteps();

    /** The std of the initial noise: the prior is N(0, initNoiseSigma^2 I). */
    double initNoiseSigma();

    /** The model's input at timestep t (identity except for the sigma-space schedulers). */
    Tensor scaleModelInput(Tensor sample, double timestep);

    /** One reverse step from {@code sample} at {@code timestep} given the model's output there. */
    StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise);

    /** The forward process at the given timesteps, one per batch row. */
    Tensor addNoise(Tensor original, Tensor noise, double[] timesteps);

    /**
     * Starts the next steps at position {@code index} of {@link #timesteps()} instead of the first step's
     * timestep looked up, and makes {@link #addNoise} use that position: what the reference's
     * set_begin_index does for image to image. Schedulers the reference gives no begin index (DDPM, DDIM,
     * PNDM) index by timestep alone and ignore it. {@link #setTimesteps} clears it.
     */
    default void setBeginIndex(int index) {}

    /** The training schedule this scheduler samples from. */
    NoiseSchedule schedule();

    PredictionType predictionType();

    /** Model calls per step: 1, or 2 for a second-order single-step method (Heun). */
    default int order() {
        return 1;
    }

    @Override
    default void close() {}
}
