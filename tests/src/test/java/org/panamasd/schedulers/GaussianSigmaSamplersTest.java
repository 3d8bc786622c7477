package org.panamasd.schedulers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.support.NativeTest;

/**
 * The deterministic schedulers on Gaussian data N(mu, s^2), with the exact denoiser E[x_0 | x_sigma] =
 * (s^2 x + sigma^2 mu) / (s^2 + sigma^2) as an x_0-predicting model: the probability-flow ODE then has the
 * closed-form solution x(sigma) = mu + (x(sigma_max) - mu) sqrt((s^2 + sigma^2) / (s^2 + sigma_max^2)), so
 * each scheduler's end point can be checked against it, and its order of convergence measured.
 */
class GaussianSigmaSamplersTest extends NativeTest {
    private static final double MU = 0.7, S = 0.4;

    /**
     * Runs the sampler from sigma_max noise; returns the largest deviation from the exact ODE solution. The
     * last step (to sigma = 0) is an Euler step for every scheduler, so the schedule ends at t = 1 (leading
     * spacing, offset 1), where sigma is small, to keep that shared error out of the comparison.
     */
    private static double errorOf(Scheduler created, int steps, Map<Double, Double> sigmaOf) {
        try (Scheduler scheduler = created; Scope scope = Scope.open(); Generator g = new Generator(3)) {
            scheduler.setTimesteps(steps);
            double[] t = scheduler.timesteps();
            double[] sigmas = ((SigmaScheduler) scheduler).sigmas();
            sigmaOf.clear();
            for (int i = 0; i < t.length; i++) sigmaOf.putIfAbsent(t[i], sigmas[i]);
            double sigmaMax = sigmas[0];
            Tensor start = Tensor.randn(g, DType.FLOAT64, Device.CPU, 256).mul(Math.sqrt(S * S + sigmaMax * sigmaMax)).add(MU);
            Tensor x = start;  // sigma space: x = x_0 + sigma eps
            for (double timestep : t) {
                double sigma = sigmaOf.get(timestep);
                Tensor input = scheduler.scaleModelInput(x, timestep);
                Tensor ve = input.mul(Math.sqrt(sigma * sigma + 1));  // undo the model-input scaling
                Tensor denoised = ve.mul(S * S).add(MU * sigma * sigma).div(S * S + sigma * sigma);
                x = scheduler.step(denoised, timestep, x, (shape, dtype, device) -> Tensor.zeros(dtype, device, shape)).prevSample();
            }
            Tensor exact = start.sub(MU).mul(Math.sqrt(S * S / (S * S + sigmaMax * sigmaMax))).add(MU);
            return x.sub(exact).abs().max().item();
        }
    }

    private static DiffusersConfig config() {
        return DiffusersConfig.empty().with("beta_schedule", "scaled_linear").with("beta_start", 0.00085).with("beta_end", 0.012)
                .with("prediction_type", "sample").with("timestep_spacing", "leading").with("steps_offset", 1);
    }

    /**
     * Halving the step twice shrinks Euler's error about 4 times (first order) and Heun's at least 16 times
     * (second order). DPM-Solver is left out: its schedules stop at t ~ T / (N + 1) and end with one large
     * first-order step to sigma = 0 whatever N, which hides its order (its parity is checked on golden cases).
     */
    @Test
    void eulerIsFirstOrderAndHeunSecondOrderOnTheExactFlow() {
        Map<Double, Double> sigmas = new HashMap<>();
        int[] steps = {10, 20, 40};
        double[] euler = new double[3], heun = new double[3];
        for (int k = 0; k < 3; k++) {
            euler[k] = errorOf(new EulerDiscreteScheduler(config()), steps[k], sigmas);
            heun[k] = errorOf(new HeunDiscreteScheduler(config()), steps[k], sigmas);
        }
        String all = "euler " + java.util.Arrays.toString(euler) + ", heun " + java.util.Arrays.toString(heun);
        assertTrue(euler[2] < euler[0] / 2.5 && euler[2] > euler[0] / 8, "Euler is first order: " + all);
        assertTrue(heun[2] < heun[0] / 16, "Heun is second order: " + all);
        for (int k = 0; k < 3; k++) assertTrue(heun[k] < euler[k] / 4, "Heun beats Euler at " + steps[k] + " steps: " + all);
    }

    @Test
    void heunRepeatsInteriorTimestepsAndCallsTheModel2NMinus1Times() {
        try (HeunDiscreteScheduler heun = new HeunDiscreteScheduler(config())) {
            heun.setTimesteps(5);
            double[] t = heun.timesteps();
            assertEquals(9, t.length);
            for (int i = 1; i < 9; i += 2) assertEquals(t[i], t[i + 1]);
            assertEquals(0.0, heun.sigmas()[9]);
        }
    }
}
