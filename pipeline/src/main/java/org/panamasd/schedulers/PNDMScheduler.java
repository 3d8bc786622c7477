package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Pseudo numerical methods for diffusion models (Liu et al. 2022): the transfer formula (their eq. 9) from
 * alpha-bar_t to alpha-bar_t' driven by a combined noise estimate, which comes from a Runge-Kutta warm-up
 * (four model calls per step, three steps) and then a linear multistep (Adams-Bashforth, PLMS). With
 * skip_prk_steps, the configuration Stable Diffusion 1.x ships, the warm-up is replaced by one improved Euler
 * step (the second timestep is repeated). The step is driven by a call counter, as the reference: the
 * timestep passed to {@link #step} only sets where the formula goes.
 */
public final class PNDMScheduler extends AlphaBarScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "skip_prk_steps", "set_alpha_to_one", "prediction_type", "timestep_spacing", "steps_offset");
    private static final int PNDM_ORDER = 4;
    private static final int RUNGE_KUTTA_CALLS = 3 * PNDM_ORDER;

    /** The arguments of one transfer: from x at alpha-bar(timestep) to alpha-bar(prevTimestep), with this eps. */
    public record Transfer(int timestep, int prevTimestep, Tensor sample, Tensor modelOutput) {}

    private final boolean skipPrkSteps;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final double finalAlphaCumprod;
    private final TensorHistory ets = new TensorHistory(PNDM_ORDER);
    private final TensorHistory curSample = new TensorHistory(1);
    private final TensorHistory rungeKuttaSum = new TensorHistory(1);
    private int prkCalls;
    private int numInferenceSteps;
    private int counter;
    private Transfer lastTransfer;

    public PNDMScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("PNDMScheduler", FIELDS);
        if (prediction == PredictionType.SAMPLE) throw config.invalid("prediction_type", "sample", "epsilon or v_prediction (PNDM)");
        this.skipPrkSteps = config.bool("skip_prk_steps", false);
        this.spacing = TimestepSpacing.fromConfigName(config.string("timestep_spacing", "leading"));
        this.stepsOffset = config.integer("steps_offset", 0);
        this.finalAlphaCumprod = config.bool("set_alpha_to_one", false) ? 1.0 : schedule.alphaCumprod(0);
    }

    public double finalAlphaCumprod() {
        return finalAlphaCumprod;
    }

    /** The transfer the last {@link #step} made (its tensors live in that step's scope). */
    public Transfer lastTransfer() {
        return lastTransfer;
    }

    @Override
    public void setTimesteps(int steps) {
        TimestepSpacing.checkSteps(steps, schedule.trainTimesteps());
        if (!skipPrkSteps && steps < PNDM_ORDER)
            throw new IllegalArgumentException("PNDMScheduler with its Runge-Kutta warm-up needs at least " + PNDM_ORDER
                    + " inference steps, got " + steps + " (set skip_prk_steps for fewer)");
        int[] grid = ascendingGrid(steps);
        int n = grid.length;
        if (skipPrkSteps) {
            // the grid descending with its second entry repeated: the improved Euler step's two calls
            timesteps = new double[n + 1];
            int k = 0;
            for (int i = n - 1; i >= 0; i--) {
                timesteps[k++] = grid[i];
                if (i == n - 2) timesteps[k++] = grid[i];
            }
            prkCalls = 0;
        } else {
            // Runge-Kutta over the top four grid points, t and t + h in between (h = half a step), then PLMS below
            int h = schedule.trainTimesteps() / steps / 2;
            timesteps = new double[RUNGE_KUTTA_CALLS + n - 3];
            int k = 0;
            int[] top = {grid[n - 1], grid[n - 2], grid[n - 3], grid[n - 4]};
            timesteps[k++] = top[0];
            for (int j = 1; j < PNDM_ORDER; j++) {
                timesteps[k++] = top[j] + h;
                timesteps[k++] = top[j] + h;
                timesteps[k++] = top[j];
                if (j < PNDM_ORDER - 1) timesteps[k++] = top[j];
            }
            for (int i = n - 4; i >= 0; i--) timesteps[k++] = grid[i];
            prkCalls = RUNGE_KUTTA_CALLS;
        }
        numInferenceSteps = steps;
        counter = 0;
        ets.clear();
        curSample.clear();
        rungeKuttaSum.clear();
    }

    /** The spacing's grid, ascending and rounded as the reference rounds it. */
    private int[] ascendingGrid(int steps) {
        double[] descending = spacing.timesteps(schedule.trainTimesteps(), steps, stepsOffset);
        int[] grid = new int[steps];
        for (int i = 0; i < steps; i++) grid[i] = (int) Math.rint(descending[steps - 1 - i]);
        TimestepSpacing.checkRange(descending, schedule.trainTimesteps(), spacing, stepsOffset);
        return grid;
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        if (numInferenceSteps == 0) throw new IllegalStateException("call setTimesteps before step");
        int t = AlphaBarTimesteps.index(timestep, schedule);
        Tensor prev = counter < prkCalls ? rungeKuttaStep(modelOutput, t, sample) : linearMultistep(modelOutput, t, sample);
        counter++;
        return new StepOutput(prev, null);
    }

    /** Call c of the warm-up: k1..k4 of classic RK4 at t, t - h/2, t - h/2, t - h, each from the step's start. */
    private Tensor rungeKuttaStep(Tensor modelOutput, int t, Tensor sample) {
        int half = schedule.trainTimesteps() / numInferenceSteps / 2;
        int target = counter % 2 == 1 ? t : t - half;
        int start = (int) timesteps[counter / 4 * 4];
        Tensor eps = modelOutput;
        switch (counter % 4) {
            case 0 -> {
                rungeKuttaSum.add(modelOutput.mul(1.0 / 6));
                ets.add(modelOutput);
                curSample.add(sample);
            }
            case 1, 2 -> rungeKuttaSum.add(rungeKuttaSum.fromNewest(0).add(modelOutput.mul(1.0 / 3)));
            default -> {
                eps = rungeKuttaSum.fromNewest(0).add(modelOutput.mul(1.0 / 6));
                rungeKuttaSum.clear();
            }
        }
        return transfer(curSample.fromNewest(0), start, target, eps);
    }

    /** PLMS: Adams-Bashforth over the kept outputs; without a warm-up, calls 0 and 1 are one improved Euler step. */
    private Tensor linearMultistep(Tensor modelOutput, int t, Tensor sample) {
        if (!skipPrkSteps && ets.size() < 3) throw new IllegalStateException("PNDMScheduler: the Runge-Kutta warm-up did not run");
        int stride = schedule.trainTimesteps() / numInferenceSteps;
        int from = t, to = t - stride;
        Tensor x = sample, eps;
        if (counter == 1) {
            // the second call of the improved Euler step restarts from call 0's input, one stride above
            from = t + stride;
            to = t;
            eps = modelOutput.add(ets.fromNewest(0)).div(2);
            x = curSample.fromNewest(0).share();  // a handle of this step's own: the kept one is freed below
        } else {
            ets.add(modelOutput);
            eps = switch (ets.size()) {
                case 1 -> modelOutput;
                case 2 -> ets.fromNewest(0).mul(3).sub(ets.fromNewest(1)).div(2);
                case 3 -> ets.fromNewest(0).mul(23).sub(ets.fromNewest(1).mul(16)).add(ets.fromNewest(2).mul(5)).div(12);
                default -> ets.fromNewest(0).mul(55).sub(ets.fromNewest(1).mul(59)).add(ets.fromNewest(2).mul(37))
                        .sub(ets.fromNewest(3).mul(9)).div(24);
            };
            if (counter == 0) curSample.add(sample);
        }
        Tensor prev = transfer(x, from, to, eps);
        if (counter == 1) curSample.clear();
        return prev;
    }

    /**
     * PNDM eq. (9): x' = sqrt(a'/a) x - (a' - a) eps / (a sqrt(1 - a') + sqrt(a (1 - a) a')), with a' the
     * final alpha-bar below t = 0. A v prediction becomes eps at this x first.
     */
    private Tensor transfer(Tensor x, int t, int prevT, Tensor output) {
        lastTransfer = new Transfer(t, prevT, x.share(), output);  // x may be the kept start sample: a handle of this step's own
        double a = schedule.alphaCumprod(t);
        double aPrev = prevT >= 0 ? schedule.alphaCumprod(prevT) : finalAlphaCumprod;
        Tensor eps = prediction.epsilon(output, x, Math.sqrt(a), Math.sqrt(1 - a));
        double denominator = a * Math.sqrt(1 - aPrev) + Math.sqrt(a * (1 - a) * aPrev);
        return x.mul(Math.sqrt(aPrev / a)).sub(eps.mul((aPrev - a) / denominator));
    }

    @Override
    public void close() {
        ets.close();
        curSample.close();
        rungeKuttaSum.close();
    }
}
