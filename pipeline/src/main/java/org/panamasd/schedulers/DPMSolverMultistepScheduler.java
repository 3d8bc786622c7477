package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): a second-order multistep solver of the diffusion ODE in
 * log-SNR time lambda = log(alpha / sigma), on data predictions x_0. With h = lambda_t - lambda_s:
 * first order x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) x_0; second order (midpoint) adds
 * -0.5 alpha_t (e^{-h} - 1) D1 with D1 = (x_0 - x_0') / r0, r0 = h_prev / h.
 */
public final class DPMSolverMultistepScheduler implements Scheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "solver_order", "prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type",
            "solver_type", "lower_order_final", "euler_at_final", "use_karras_sigmas", "use_lu_lambdas", "final_sigmas_type",
            "lambda_min_clipped", "variance_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr");

    private final NoiseSchedule schedule;
    private final PredictionType prediction;
    private final SampleClipping clipping;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final boolean karras;
    private final boolean lowerOrderFinal;
    private final boolean eulerAtFinal;
    private final boolean finalSigmaZero;
    private final double[] trainingSigmas;
    private double[] timesteps = new double[0];
    private double[] sigmas = new double[0];
    private final StepIndex position = new StepIndex();
    private int lowerOrderNums;
    private Tensor previousX0;
    private Scope history;

    public DPMSolverMultistepScheduler(DiffusersConfig config) {
        config.warnUnknown("DPMSolverMultistepScheduler", FIELDS);
        this.schedule = NoiseSchedule.fromConfig(config);
        this.prediction = PredictionType.fromConfigName(config.string("prediction_type", "epsilon"));
        String algorithm = config.string("algorithm_type", "dpmsolver++");
        if (!algorithm.equals("dpmsolver++")) throw config.invalid("algorithm_type", algorithm, "dpmsolver++ (the data-prediction solver)");
        if (config.integer("solver_order", 2) != 2) throw config.invalid("solver_order", config.integer("solver_order", 2), "2");
        String solverType = config.string("solver_type", "midpoint");
        if (!solverType.equals("midpoint")) throw config.invalid("solver_type", solverType, "midpoint");
        if (config.bool("use_lu_lambdas", false)) throw config.invalid("use_lu_lambdas", true, "false");
        double lambdaMinClipped = config.number("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        if (lambdaMinClipped != Double.NEGATIVE_INFINITY) throw config.invalid("lambda_min_clipped", lambdaMinClipped, "-inf");
        this.clipping = SampleClipping.fromConfig(config, false).withoutClip();
        this.spacing = TimestepSpacing.fromConfigName(config.string("timestep_spacing", "linspace"));
        this.stepsOffset = config.integer("steps_offset", 0);
        this.karras = config.bool("use_karras_sigmas", false);
        this.lowerOrderFinal = config.bool("lower_order_final", true);
        this.eulerAtFinal = config.bool("euler_at_final", false);
        String finalSigmas = config.string("final_sigmas_type", "zero");
        if (!finalSigmas.equals("zero") && !finalSigmas.equals("sigma_min")) throw config.invalid("final_sigmas_type", finalSigmas, "zero or sigma_min");
        this.finalSigmaZero = finalSigmas.equals("zero");
        this.trainingSigmas = SigmaSteps.trainingSigmas(schedule, config.bool("rescale_betas_zero_snr", false));
    }

    @Override
    public void setTimesteps(int steps) {
        int trainSteps = schedule.trainTimesteps();
        TimestepSpacing.checkSteps(steps, trainSteps);
        // spaced over N + 1 points with the last dropped (leading and linspace), unlike the other schedulers
        double[] t = new double[steps];
        switch (spacing) {
            case LINSPACE -> {
                double[] line = TimestepSpacing.linspace(0, trainSteps - 1, steps + 1);
                for (int i = 0; i < steps; i++) t[i] = Math.rint(line[steps - i]);
            }
            case LEADING -> {
                int ratio = trainSteps / (steps + 1);
                for (int i = 0; i < steps; i++) t[i] = (double) (steps - i) * ratio + stepsOffset;
            }
            case TRAILING -> t = TimestepSpacing.TRAILING.timesteps(trainSteps, steps, 0);
        }
        TimestepSpacing.checkRange(t, trainSteps, spacing, stepsOffset);
        double[] s = new double[steps];
        if (karras) {
            s = SigmaSteps.karras(trainingSigmas[0], trainingSigmas[trainSteps - 1], steps);
            double[] logSigmas = SigmaSteps.logs(trainingSigmas);
            for (int i = 0; i < steps; i++) t[i] = Math.rint(SigmaSteps.sigmaToT(s[i], logSigmas));
        } else {
            for (int i = 0; i < steps; i++) s[i] = SigmaSteps.interp(t[i], trainingSigmas);
        }
        double last = finalSigmaZero ? 0 : trainingSigmas[0];
        this.sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) sigmas[i] = (float) s[i];
        sigmas[steps] = (float) last;
        this.timesteps = t;
        position.reset();
        this.lowerOrderNums = 0;
        resetHistory();
    }

    private void resetHistory() {
        if (history != null && history.isOpen()) history.close();
        history = null;
        previousX0 = null;
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
        return 1.0;
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, double timestep) {
        return sample;
    }

    /** The index of a timestep: its second occurrence when repeated, the last step when absent. */
    private int indexFor(double timestep) {
        for (double t : timesteps) if (SigmaSteps.sameTimestep(t, timestep)) return SigmaSteps.indexOf(timesteps, timestep);
        return timesteps.length - 1;
    }

    /** VP coefficients at a sigma: alpha = 1 / sqrt(sigma^2 + 1), sigma_t = sigma alpha. */
    private static double alpha(double sigma) {
        return 1 / Math.sqrt(sigma * sigma + 1);
    }

    private static double lambda(double sigma) {
        double a = alpha(sigma);
        return Math.log(a) - Math.log(sigma * a);
    }

    @Override
    public void setBeginIndex(int index) {
        position.begin(index, timesteps.length);
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        if (timesteps.length == 0) throw new IllegalStateException("call setTimesteps before step");
        int i = position.current(() -> indexFor(timestep)), n = timesteps.length;
        boolean firstOrderAtEnd = i == n - 1 && (eulerAtFinal || (lowerOrderFinal && n < 15) || finalSigmaZero);

        double sigmaS = sigmas[i], sigmaT = sigmas[i + 1];
        double alphaS = alpha(sigmaS);
        Tensor x0 = clipping.apply(prediction.originalSample(modelOutput, sample, alphaS, sigmaS * alphaS));
        Tensor x = sample.dtype() == DType.FLOAT32 ? sample : sample.to(DType.FLOAT32);

        double alphaT = alpha(sigmaT);
        double h = lambda(sigmaT) - lambda(sigmaS);
        double expm = Math.exp(-h) - 1;  // e^{-h} - 1
        double ratio = sigmaT * alphaT / (sigmaS * alphaS);
        Tensor prev = x.mul(ratio).sub(x0.mul(alphaT * expm));
        if (!(lowerOrderNums < 1 || firstOrderAtEnd)) {
            double h0 = lambda(sigmaS) - lambda(sigmas[i - 1]);
            double r0 = h0 / h;
            Tensor d1 = x0.sub(previousX0).mul(1.0 / r0);
            prev = prev.sub(d1.mul(0.5 * alphaT * expm));
        }
        if (lowerOrderNums < 2) lowerOrderNums++;
        remember(x0);
        position.advance();
        return new StepOutput(prev.to(modelOutput.dtype()), null);
    }

    /** Keeps this step's x_0 for the next step, in the scheduler's own scope (it outlives the step's scope). */
    private void remember(Tensor x0) {
        Scope old = history;
        history = Scope.detached();
        previousX0 = x0.share().moveTo(history);
        if (old != null) old.close();
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, double[] timesteps) {
        double[] a = new double[timesteps.length], s = new double[timesteps.length];
        for (int r = 0; r < timesteps.length; r++) {
            double t = timesteps[r];
            double sigma = sigmas[position.forNoise(() -> indexFor(t))];
            a[r] = alpha(sigma);
            s[r] = sigma * a[r];
        }
        return original.mul(NoiseSchedule.rowsLike(a, original)).add(noise.mul(NoiseSchedule.rowsLike(s, original)));
    }

    @Override
    public NoiseSchedule schedule() {
        return schedule;
    }

    @Override
    public PredictionType predictionType() {
        return prediction;
    }

    /** Frees the kept x_0. */
    @Override
    public void close() {
        resetHistory();
    }
}
