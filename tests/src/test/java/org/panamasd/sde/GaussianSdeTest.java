package org.panamasd.sde;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.support.NativeTest;

/**
 * The samplers with the exact score of Gaussian data N(mu, s^2): under any of the three SDEs the marginal at
 * t is N(m(t) mu, m(t)^2 s^2 + std(t)^2), whose score is -(x - m mu) / var. Each sampler, started from the
 * exact marginal at T, must end at the marginal at eps.
 *
 * <p>Tolerances: with n samples the sample mean has standard error sqrt(var / n) and the sample variance
 * var sqrt(2 / n); we allow 5 standard errors plus the discretisation bias of the solver, which is first
 * order in the step (weak order 1 for Euler-Maruyama and the predictor) and measured here to stay below 2 %
 * of the variance at these step counts (Heun and RK45 are far below that).
 */
class GaussianSdeTest extends NativeTest {
    private static final int N = 20_000;
    private static final double MU = 1.5, S = 0.5;

    private static ScoreFunction exactScore(Sde sde) {
        return (x, t) -> {
            double m = sde.marginalMeanCoefficient(t), std = sde.marginalStd(t);
            double var = m * m * S * S + std * std;
            return x.sub(m * MU).div(-var);
        };
    }

    private static Tensor marginalSample(Sde sde, double t, Generator g) {
        double m = sde.marginalMeanCoefficient(t), std = sde.marginalStd(t);
        return Tensor.randn(g, DType.FLOAT64, Device.CPU, N).mul(Math.sqrt(m * m * S * S + std * std)).add(m * MU);
    }

    private static void assertMarginal(Sde sde, Tensor x, double biasFraction, String what) {
        double t = sde.eps();
        double m = sde.marginalMeanCoefficient(t), std = sde.marginalStd(t);
        double mean = m * MU, var = m * m * S * S + std * std;
        double sampleMean = x.mean().item();
        double sampleVar = x.var(new long[0], 1, false).item();
        double meanBound = 5 * Math.sqrt(var / N) + biasFraction * Math.sqrt(var);
        double varBound = 5 * var * Math.sqrt(2.0 / N) + biasFraction * var;
        assertEquals(mean, sampleMean, meanBound, what + ": mean");
        assertEquals(var, sampleVar, varBound, what + ": variance");
    }

    private static List<Sde> sdes() {
        return List.of(new VPSDE(), new SubVPSDE(), new VESDE(0.01, 5));
    }

    @Test
    void eulerMaruyamaReachesTheDataDistribution() {
        for (Sde sde : sdes()) {
            try (Scope scope = Scope.open(); Generator g = new Generator(11)) {
                Tensor x = new EulerMaruyama(sde, 500).sample(marginalSample(sde, sde.T(), g), exactScore(sde), NoiseSource.of(g));
                assertMarginal(sde, x, 0.02, "Euler-Maruyama " + sde.getClass().getSimpleName());
            }
        }
    }

    @Test
    void predictorCorrectorReachesTheDataDistribution() {
        for (Sde sde : sdes()) {
            try (Scope scope = Scope.open(); Generator g = new Generator(12)) {
                Tensor x = new PredictorCorrector(sde, 300, 0.16, 1).sample(marginalSample(sde, sde.T(), g), exactScore(sde), NoiseSource.of(g));
                assertMarginal(sde, x, 0.02, "predictor-corrector " + sde.getClass().getSimpleName());
            }
        }
    }

    @Test
    void probabilityFlowSolversReachTheDataDistribution() {
        for (Sde sde : sdes()) {
            try (Scope scope = Scope.open(); Generator g = new Generator(13)) {
                Tensor xT = marginalSample(sde, sde.T(), g);
                assertMarginal(sde, ProbabilityFlowOde.heun(sde, 100).sample(xT, exactScore(sde)), 0.005, "PF-ODE Heun " + sde.getClass().getSimpleName());
                ProbabilityFlowOde rk45 = ProbabilityFlowOde.rk45(sde, 1e-5, 1e-5);
                assertMarginal(sde, rk45.sample(xT, exactScore(sde)), 0.005, "PF-ODE RK45 " + sde.getClass().getSimpleName());
                assertTrue(rk45.evaluations() < 2000, "adaptive steps: " + rk45.evaluations() + " evaluations");
            }
        }
    }

    @Test
    void probabilityFlowRoundTripsDataThroughNoise() {
        for (Sde sde : sdes()) {
            try (Scope scope = Scope.open(); Generator g = new Generator(14)) {
                Tensor data = marginalSample(sde, sde.eps(), g).narrow(0, 0, 1000);
                ProbabilityFlowOde ode = ProbabilityFlowOde.rk45(sde, 1e-8, 1e-8);
                Tensor latent = ode.encode(data, exactScore(sde));
                // the latent follows the prior-time marginal
                double m = sde.marginalMeanCoefficient(sde.T()), std = sde.marginalStd(sde.T());
                assertEquals(m * MU, latent.mean().item(), 5 * Math.sqrt((m * m * S * S + std * std) / 1000));
                Tensor back = ode.sample(latent, exactScore(sde));
                double error = back.sub(data).abs().max().item();
                assertTrue(error < 1e-4, sde.getClass().getSimpleName() + " round-trip error " + error);
            }
        }
    }

    @Test
    void annealedLangevinOnTheNcsnLadder() {
        double[] sigmas = NoiseLadder.geometric(0.1, 1.0, 10);
        assertEquals(1.0, sigmas[0], 1e-12);
        assertEquals(0.1, sigmas[9], 1e-12);
        for (int i = 1; i < sigmas.length; i++) assertEquals(sigmas[1] / sigmas[0], sigmas[i] / sigmas[i - 1], 1e-12);
        ScoreFunction scoreAtSigma = (x, sigma) -> x.sub(MU).div(-(S * S + sigma * sigma));
        double epsilon = 0.01;
        try (Scope scope = Scope.open(); Generator g = new Generator(15)) {
            Tensor start = Tensor.randn(g, DType.FLOAT64, Device.CPU, N).mul(2.0);
            Tensor x = new AnnealedLangevin(sigmas, 100, epsilon).sample(start, scoreAtSigma, NoiseSource.of(g));
            // at the last level alpha = epsilon; the discretised dynamics x' = (1 - alpha / 2v) x + sqrt(alpha) z
            // is stationary at v / (1 - alpha / 4v), and 100 steps contract the previous level's excess by
            // (1 - alpha / 2v)^100 < 0.15 of a 1 % difference
            double v = S * S + 0.1 * 0.1;
            double stationary = v / (1 - epsilon / (4 * v));
            assertEquals(MU, x.mean().item(), 5 * Math.sqrt(v / N));
            assertEquals(stationary, x.var(new long[0], 1, false).item(), 5 * v * Math.sqrt(2.0 / N) + 0.005 * v);
        }
    }

    @Test
    void sdeCoefficientsMatchTheirClosedForms() {
        VPSDE vp = new VPSDE(0.1, 20);
        // m(t)^2 + std(t)^2 = 1 for VP; sub-VP std is the square of VP's variance
        for (double t : new double[] {0.01, 0.3, 1}) {
            assertEquals(1, Math.pow(vp.marginalMeanCoefficient(t), 2) + Math.pow(vp.marginalStd(t), 2), 1e-12);
            assertEquals(Math.pow(vp.marginalStd(t), 2), new SubVPSDE(0.1, 20).marginalStd(t), 1e-12);
            // d/dt log m(t) = a(t): the kernel mean follows the drift
            double h = 1e-6;
            double slope = (Math.log(vp.marginalMeanCoefficient(t + h)) - Math.log(vp.marginalMeanCoefficient(t - h))) / (2 * h);
            assertEquals(vp.driftCoefficient(t), slope, 1e-6);
            // d/dt var(t) = g(t)^2 for VE
            VESDE ve = new VESDE(0.01, 50);
            double dVar = (Math.pow(ve.marginalStd(t + h), 2) - Math.pow(ve.marginalStd(t - h), 2)) / (2 * h);
            assertEquals(Math.pow(ve.diffusion(t), 2), dVar, 1e-4 * dVar);
        }
    }
}
