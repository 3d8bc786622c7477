package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.support.NativeTest;

/**
 * DMD's regression pairs, checked against DDIM worked out here by hand for a teacher whose x_0 prediction is
 * linear in its input and shifted by its context: x̂(z, c) = z / 2 + c[0].
 */
class RegressionPairsTest extends NativeTest {
    private static final AddTrainer.Denoiser LINEAR = (z, t, c) -> z.mul(0.5).add(c.narrow(1, 0, 1).narrow(2, 0, 1).reshape(c.size(0), 1, 1, 1));

    private static final NoiseSchedule ZERO_SNR = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"rescale_betas_zero_snr\": true}"));
    /** SD's own schedule: alpha-bar at 999 above 0, so the first step's a x̂ term counts too. */
    private static final NoiseSchedule SCALED_LINEAR = NoiseSchedule.fromConfig(DiffusersConfig.parse(
            "{\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012}"));

    @Test
    void targetsAreTheTeachersTwoStepDdimSamplesRowByRow() {
        check(ZERO_SNR, 1.0);
        check(SCALED_LINEAR, 1.0);
    }

    @Test
    void guidanceCombinesTheConditionalAndEmptyPromptsPredictions() {
        check(ZERO_SNR, 3.0);
        check(SCALED_LINEAR, 3.0);
    }

    /** Five rows in chunks of 2 (a chunk boundary inside), two trailing DDIM steps: 999 then 499. */
    private static void check(NoiseSchedule schedule, double guidance) {
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            Tensor noise = Tensor.randn(g, 5, 2, 2, 2), context = Tensor.randn(g, 5, 3, 4), unconditional = Tensor.randn(g, 1, 3, 4);
            RegressionPairs pairs = RegressionPairs.generate(LINEAR, "linear", schedule, 2, guidance, noise, context, unconditional, 2);
            assertEquals(999, pairs.timestep());
            float[] z = noise.toFloatArray(), got = pairs.target().toFloatArray(), c = context.toFloatArray();
            double u = unconditional.toFloatArray()[0];
            double a999 = Math.sqrt(schedule.alphaCumprod(999)), s999 = Math.sqrt(1 - schedule.alphaCumprod(999));
            double a499 = Math.sqrt(schedule.alphaCumprod(499)), s499 = Math.sqrt(1 - schedule.alphaCumprod(499));
            if (schedule == SCALED_LINEAR) assertTrue(a999 > 0.05, "this schedule keeps signal at 999: " + a999);
            for (int i = 0; i < z.length; i++) {
                int row = i / 8;
                double shift = guidance > 1 ? u + guidance * (c[row * 12] - u) : c[row * 12];  // CFG: uncond + g (cond - uncond)
                double x0 = z[i] / 2 + shift;
                double z499 = a499 * x0 + s499 * (z[i] - a999 * x0) / s999;
                double expected = z499 / 2 + shift;
                assertEquals(expected, got[i], 1e-5 * Math.max(1, Math.abs(expected)), "element " + i);
            }
        }
    }

    @Test
    void drawsKeepEachNoiseWithItsContextAndTarget() {
        try (Scope s = Scope.open(); Generator g = new Generator(5)) {
            Tensor noise = Tensor.randn(g, 16, 1, 2, 2);
            Tensor context = noise.reshape(16, 1, 4).mul(3);  // row i's context is 3x its noise, its target 2x
            RegressionPairs pairs = new RegressionPairs(noise, context, noise.mul(2), 999, 4, 1.0, "test");
            RegressionPairs.Batch b = pairs.draw(6, g);
            assertEquals(6, b.noise().size(0));
            assertArrayEquals(b.noise().mul(2).toFloatArray(), b.target().toFloatArray(), 1e-6f);
            assertArrayEquals(b.noise().reshape(6, 1, 4).mul(3).toFloatArray(), b.context().toFloatArray(), 1e-6f);
        }
    }

    @Test
    void saveAndLoadRoundTripAndABadFileNamesWhatIsMissing(@TempDir Path dir) {
        try (Scope s = Scope.open(); Generator g = new Generator(6)) {
            RegressionPairs pairs = new RegressionPairs(Tensor.randn(g, 4, 2, 2, 2), Tensor.randn(g, 4, 3, 4), Tensor.randn(g, 4, 2, 2, 2), 999, 16, 1.5, "/models/teacher");
            Path file = dir.resolve("run/not/made/yet/pairs.safetensors");  // a run writes them before its output directory exists
            pairs.save(file);
            RegressionPairs back = RegressionPairs.load(file);
            assertArrayEquals(pairs.target().toFloatArray(), back.target().toFloatArray());
            assertArrayEquals(pairs.context().toFloatArray(), back.context().toFloatArray());
            assertEquals(16, back.teacherSteps());
            assertEquals(1.5, back.guidance());
            assertEquals(999, back.timestep());
            assertEquals("/models/teacher", back.source());
            assertTrue(back.madeBy("/models/teacher", 4, 16, 1.5, new long[] {99, 2, 2, 2}), "the same teacher, settings and latent shape");
            assertFalse(back.madeBy("/models/other", 4, 16, 1.5, new long[] {99, 2, 2, 2}), "another teacher");
            assertFalse(back.madeBy("/models/teacher", 4, 16, 1.5, new long[] {99, 4, 2, 2}), "another latent shape");
            assertFalse(back.madeBy("/models/teacher", 8, 16, 1.5, new long[] {99, 2, 2, 2}), "another count");

            Path noTarget = dir.resolve("no-target.safetensors");
            SafeTensorsWriter.write(Map.of("noise", pairs.noise(), "context", pairs.context()), Map.of(), noTarget);
            var e = assertThrows(IllegalArgumentException.class, () -> RegressionPairs.load(noTarget));
            assertTrue(e.getMessage().contains("no-target.safetensors") && e.getMessage().contains("'target'"), e.getMessage());

            Path noMeta = dir.resolve("no-meta.safetensors");
            SafeTensorsWriter.write(Map.of("noise", pairs.noise(), "context", pairs.context(), "target", pairs.target()), Map.of(), noMeta);
            e = assertThrows(IllegalArgumentException.class, () -> RegressionPairs.load(noMeta));
            assertTrue(e.getMessage().contains("metadata 'timestep'"), e.getMessage());
            assertTrue(Files.exists(file));
        }
    }

    @Test
    void mismatchedRowsAreRefused() {
        try (Scope s = Scope.open(); Generator g = new Generator(7)) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> new RegressionPairs(Tensor.randn(g, 4, 2), Tensor.randn(g, 3, 1, 2), Tensor.randn(g, 4, 2), 999, 1, 1.0, "test"));
            assertTrue(e.getMessage().contains("4 noises, 3 contexts"), e.getMessage());
        }
    }
}
