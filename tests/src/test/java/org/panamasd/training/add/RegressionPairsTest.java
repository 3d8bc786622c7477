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

    private static final NoiseSchedule SCHEDULE = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"rescale_betas_zero_snr\": true}"));

    @Test
    void targetsAreTheTeachersTwoStepDdimSamplesRowByRow() {
        check(1.0);
    }

    @Test
    void guidanceCombinesTheConditionalAndEmptyPromptsPredictions() {
        check(3.0);
    }

    /** Five rows in chunks of 2 (a chunk boundary inside), two trailing DDIM steps: 999 then 499. */
    private static void check(double guidance) {
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            Tensor noise = Tensor.randn(g, 5, 2, 2, 2), context = Tensor.randn(g, 5, 3, 4), unconditional = Tensor.randn(g, 1, 3, 4);
            RegressionPairs pairs = RegressionPairs.generate(LINEAR, SCHEDULE, 2, guidance, noise, context, unconditional, 2);
            assertEquals(999, pairs.timestep());
            float[] z = noise.toFloatArray(), got = pairs.target().toFloatArray(), c = context.toFloatArray();
            double u = unconditional.toFloatArray()[0];
            double a999 = Math.sqrt(SCHEDULE.alphaCumprod(999)), s999 = Math.sqrt(1 - SCHEDULE.alphaCumprod(999));
            double a499 = Math.sqrt(SCHEDULE.alphaCumprod(499)), s499 = Math.sqrt(1 - SCHEDULE.alphaCumprod(499));
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
            RegressionPairs pairs = new RegressionPairs(noise, context, noise.mul(2), 999, 4, 1.0);
            RegressionPairs.Batch b = pairs.draw(6, g);
            assertEquals(6, b.noise().size(0));
            assertArrayEquals(b.noise().mul(2).toFloatArray(), b.target().toFloatArray(), 1e-6f);
            assertArrayEquals(b.noise().reshape(6, 1, 4).mul(3).toFloatArray(), b.context().toFloatArray(), 1e-6f);
        }
    }

    @Test
    void saveAndLoadRoundTripAndABadFileNamesWhatIsMissing(@TempDir Path dir) {
        try (Scope s = Scope.open(); Generator g = new Generator(6)) {
            RegressionPairs pairs = new RegressionPairs(Tensor.randn(g, 4, 2, 2, 2), Tensor.randn(g, 4, 3, 4), Tensor.randn(g, 4, 2, 2, 2), 999, 16, 1.5);
            Path file = dir.resolve("run/not/made/yet/pairs.safetensors");  // a run writes them before its output directory exists
            pairs.save(file);
            RegressionPairs back = RegressionPairs.load(file);
            assertArrayEquals(pairs.target().toFloatArray(), back.target().toFloatArray());
            assertArrayEquals(pairs.context().toFloatArray(), back.context().toFloatArray());
            assertEquals(16, back.teacherSteps());
            assertEquals(1.5, back.guidance());
            assertEquals(999, back.timestep());

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
                    () -> new RegressionPairs(Tensor.randn(g, 4, 2), Tensor.randn(g, 3, 1, 2), Tensor.randn(g, 4, 2), 999, 1, 1.0));
            assertTrue(e.getMessage().contains("4 noises, 3 contexts"), e.getMessage());
        }
    }
}
