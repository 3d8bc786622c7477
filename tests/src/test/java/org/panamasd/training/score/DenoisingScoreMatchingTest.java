package org.panamasd.training.score;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.sde.VESDE;
import org.panamasd.sde.VPSDE;
import org.panamasd.support.NativeTest;

/** The DSM loss, the objectives' kernels and weights, and the score model's pre- and post-conditioning, against values worked out by hand. */
class DenoisingScoreMatchingTest extends NativeTest {

    @Test
    void theLossOnFixedTensorsIsTheHandDerivedValue() {
        try (Scope s = Scope.open()) {
            // example 0: s + z / sigma = (1 + 1/0.5, -2 + 0) = (3, -2): |.|^2 = 13, times lambda / 2 = 0.25 / 2 -> 1.625
            // example 1: (0.5 - 1/2, 0 + 2/2) = (0, 1): |.|^2 = 1, times 4 / 2 -> 2; the mean over the batch: 1.8125
            Tensor score = Tensor.of(new float[] {1, -2, 0.5f, 0}, 2, 1, 1, 2);
            Tensor noise = Tensor.of(new float[] {1, 0, -1, 2}, 2, 1, 1, 2);
            Tensor std = Tensor.of(new float[] {0.5f, 2}, 2), weight = Tensor.of(new float[] {0.25f, 4}, 2);
            assertClose(1.8125, DenoisingScoreMatching.loss(score, noise, std, weight).item(), 1e-6);
            // the loss is a sum over dimensions, not a mean: the same residuals as (2, 2) give the same value
            assertClose(1.8125, DenoisingScoreMatching.loss(score.reshape(2, 2), noise.reshape(2, 2), std, weight).item(), 1e-6);
        }
    }

    @Test
    void theObjectivesUseThePapersKernelsAndWeights() {
        NcsnObjective ncsn = new NcsnObjective(0.01, 50, 100);
        assertEquals(50, ncsn.sigmas()[0], 1e-12);
        assertEquals(0.01, ncsn.sigmas()[99], 1e-12);
        ScoreObjective.Level l = ncsn.at(2.0);
        assertEquals(1, l.mean());
        assertEquals(2.0, l.std());
        assertEquals(4.0, l.weight(), 1e-12);  // lambda(sigma) = sigma^2
        assertEquals(0, ncsn.at(0.01).condition(), 1e-9);
        assertEquals(999, ncsn.at(50).condition(), 1e-9);

        // VE at t = 0.5: sigma = 0.01 * 5000^0.5 = 0.70711; g^2 = sigma^2 * 2 ln 5000 = 0.5 * 17.0344 = 8.5172
        SdeObjective ve = new SdeObjective(new VESDE(0.01, 50), false), veLikelihood = new SdeObjective(new VESDE(0.01, 50), true);
        assertEquals(0.7071068, ve.at(0.5).std(), 1e-6);
        assertEquals(0.5, ve.at(0.5).weight(), 1e-9);
        assertEquals(8.517193, veLikelihood.at(0.5).weight(), 1e-5);
        // the VE model's input at t is the NCSN model's input at sigma(t)
        assertEquals(ncsn.at(ve.at(0.3).std()).condition(), ve.at(0.3).condition(), 1e-6);

        // VP at t = 0.5 (beta 0.1 .. 20): log m = -1/4 0.25 19.9 - 1/2 0.5 0.1 = -1.26875; s^2 = 1 - e^{-2.5375} = 0.920936;
        // beta(0.5) = 10.05 is the likelihood weight g^2
        SdeObjective vp = new SdeObjective(new VPSDE(0.1, 20), false), vpLikelihood = new SdeObjective(new VPSDE(0.1, 20), true);
        assertEquals(Math.exp(-1.26875), vp.at(0.5).mean(), 1e-12);
        assertEquals(0.920936, vp.at(0.5).weight(), 1e-6);
        assertEquals(10.05, vpLikelihood.at(0.5).weight(), 1e-9);
        assertEquals(499.5, vp.at(0.5).condition(), 1e-9);
    }

    @Test
    void levelsAreDrawnFromTheLadderAndFromUOfEpsAndOne() {
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            NcsnObjective ncsn = new NcsnObjective(0.1, 1, 4);
            java.util.Set<Double> ladder = new java.util.HashSet<>();
            for (double sigma : ncsn.sigmas()) ladder.add(sigma);
            java.util.Set<Double> seen = new java.util.HashSet<>();
            for (double sigma : ncsn.drawLevels(400, g)) {
                assertTrue(ladder.contains(sigma), "sigma " + sigma + " is not on the ladder");
                seen.add(sigma);
            }
            assertEquals(4, seen.size(), "400 draws reach every level");
            double[] t = new SdeObjective(new VPSDE(), false).drawLevels(4000, g);
            double mean = java.util.Arrays.stream(t).average().orElseThrow();
            assertTrue(java.util.Arrays.stream(t).allMatch(v -> v >= 1e-5 && v <= 1));
            assertEquals(0.5, mean, 5 * Math.sqrt(1 / 12.0 / 4000));  // U(eps, 1): mean 1/2, sd sqrt(1/12)
        }
    }

    /**
     * For data at a single point x_0 = 0 the perturbed density is N(0, s^2 I), whose score -x / s^2 is exactly
     * what an epsilon network that outputs x~ / s gives; the score model must turn that network into this
     * score (through its input scaling and output division), and the DSM loss at the exact score is 0.
     */
    @Test
    void theExactNoisePredictorGivesTheExactScoreAndZeroLoss() {
        for (ScoreObjective objective : java.util.List.of(new NcsnObjective(0.01, 50, 10), new SdeObjective(new VESDE(0.01, 50), false),
                new SdeObjective(new VPSDE(), false))) {
            double level = objective instanceof NcsnObjective n ? n.sigmas()[3] : 0.37;
            ScoreObjective.Level l = objective.at(level);
            double m = l.mean(), std = l.std();
            // the network sees x~ / sqrt(m^2 + s^2); undoing that and dividing by s gives z back
            ScoreNetwork exact = (input, condition, labels) -> input.mul(Math.sqrt(m * m + std * std) / std);
            ScoreModel model = new ScoreModel(exact, objective, -1);
            try (Scope s = Scope.open(); Generator g = new Generator(5)) {
                Tensor z = Tensor.randn(g, 8, 1, 4, 4);
                Tensor perturbed = z.mul(std);  // m x_0 + s z with x_0 = 0
                double[] levels = new double[8];
                java.util.Arrays.fill(levels, level);
                Tensor score = model.score(perturbed, levels, null);
                assertClose(values(perturbed.div(-std * std)), values(score), 1e-6 / (std * std), 1e-5);
                Tensor stds = Tensor.full(std, 8), weights = Tensor.full(l.weight(), 8);
                assertEquals(0, DenoisingScoreMatching.loss(score, z, stds, weights).item(), 1e-6 * 16 * l.weight(), objective.getClass().getSimpleName());
            }
        }
    }
}
