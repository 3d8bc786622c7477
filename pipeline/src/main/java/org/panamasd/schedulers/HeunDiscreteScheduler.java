package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Heun's second-order method on the probability-flow ODE in sigma space (Karras et al. 2022, Algorithm 1):
 * an Euler step to sigma_{i+1}, then a correction with the average of the slopes at both ends. As in
 * diffusers, every interior timestep appears twice in {@link #timesteps()} (2N - 1 model calls); the last
 * step, to sigma = 0, is a plain Euler step.
 */
public final class HeunDiscreteScheduler extends SigmaScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "prediction_type", "use_karras_sigmas", "clip_sample", "clip_sample_range", "timestep_spacing", "steps_offset");

    private final boolean karras;
    private final SampleClipping clipping;
    // the first-order half of the current step, kept for its correction
    private Scope pending;
    private Tensor pendingDerivative, pendingSample;
    private double pendingDt;

    public HeunDiscreteScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("HeunDiscreteScheduler", FIELDS);
        this.karras = config.bool("use_karras_sigmas", false);
        this.clipping = SampleClipping.fromConfig(config, false);
    }

    @Override
    public void setTimesteps(int steps) {
        double[] t = spacedTimesteps(steps);
        double[] s = interpolatedSigmas(t);
        if (karras) {
            s = SigmaSteps.karras(s[steps - 1], s[0], steps);
            double[] fractional = timestepsOf(s);
            for (int i = 0; i < steps; i++) t[i] = (float) fractional[i];
        }
        // t0, t1, t1, t2, t2, ...; sigma0, sigma1, sigma1, ..., sigma_{N-1}, sigma_{N-1}, 0
        this.timesteps = new double[2 * steps - 1];
        this.sigmas = new double[2 * steps];
        timesteps[0] = (float) t[0];
        sigmas[0] = (float) s[0];
        for (int i = 1; i < steps; i++) {
            timesteps[2 * i - 1] = timesteps[2 * i] = (float) t[i];
            sigmas[2 * i - 1] = sigmas[2 * i] = (float) s[i];
        }
        sigmas[2 * steps - 1] = 0;
        position.reset();
        clearPending();
    }

    @Override
    public int order() {
        return 2;
    }

    private boolean firstOrder() {
        return pendingDerivative == null;
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        int i = index(timestep);
        Tensor x = sample.dtype() == DType.FLOAT32 ? sample : sample.to(DType.FLOAT32);
        boolean first = firstOrder();
        double sigma = first ? sigmas[i] : sigmas[i - 1];
        double sigmaNext = first ? sigmas[i + 1] : sigmas[i];
        double sigmaInput = first ? sigma : sigmaNext;  // where the model was evaluated
        Tensor x0 = clipping.apply(originalSample(modelOutput, x, sigmaInput, sigmaInput));
        Tensor prev;
        if (first) {
            Tensor derivative = x.sub(x0).div(sigma);
            double dt = sigmaNext - sigma;
            prev = x.add(derivative.mul(dt));
            if (sigmaNext > 0) keepPending(derivative, x, dt);
        } else {
            Tensor derivative = x.sub(x0).div(sigmaNext).add(pendingDerivative).div(2);
            prev = pendingSample.add(derivative.mul(pendingDt));
            clearPending();
        }
        position.advance();
        return new StepOutput(prev.to(modelOutput.dtype()), x0);
    }

    /** The Euler half's slope and start point outlive the step's scope until the correction uses them. */
    private void keepPending(Tensor derivative, Tensor start, double dt) {
        clearPending();
        pending = Scope.detached();
        pendingDerivative = derivative.share().moveTo(pending);
        pendingSample = start.share().moveTo(pending);
        pendingDt = dt;
    }

    private void clearPending() {
        if (pending != null) pending.close();
        pending = null;
        pendingDerivative = pendingSample = null;
    }

    @Override
    public void close() {
        clearPending();
    }
}
