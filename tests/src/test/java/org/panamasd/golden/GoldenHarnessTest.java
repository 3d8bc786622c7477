package org.panamasd.golden;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.support.NativeTest;

/** The harness reads every case the golden README's format allows. */
class GoldenHarnessTest extends NativeTest {

    @Test
    void caseJsonMayHoldPythonsInfinityAndNan(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("case.json"), """
                {"kind": "scheduler", "tolerance": {"atol": 1e-5, "rtol": NaN},
                 "runs": {"a": {"scheduler_config": {"lambda_min_clipped": -Infinity, "variance_type": null}}}}""");
        GoldenCase c = new GoldenCase(dir);
        assertEquals("scheduler", c.kind());
        assertTrue(Double.isNaN(c.rtol()));
        DiffusersConfig config = c.config(c.json().path("runs").path("a").path("scheduler_config"), "runs.a.scheduler_config");
        assertEquals(Double.NEGATIVE_INFINITY, config.number("lambda_min_clipped", 0));
    }

    @Test
    void aRunWithoutSchedulerNoiseReplaysNoDraws(@TempDir Path dir) {
        try (Scope scope = Scope.open()) {
            Path file = dir.resolve("inputs.safetensors");
            SafeTensorsWriter.write(Map.of("run.vae_sample_noise", Tensor.full(2, 1, 2), "other.scheduler_noise", Tensor.ones(3, 1, 2)), Map.of(), file);
            var inputs = org.panamasd.io.SafeTensors.open(file);
            RecordedNoise noise = new RecordedNoise("run").single(inputs, "run.vae_sample_noise").stackIfPresent(inputs, "run.scheduler_noise");
            assertArrayEquals(new float[] {2, 2}, noise.next(new long[] {1, 2}, DType.FLOAT32, Device.CPU).toFloatArray());
            noise.assertAllUsed();
            AssertionError more = assertThrows(AssertionError.class, () -> noise.next(new long[] {1, 2}, DType.FLOAT32, Device.CPU));
            assertTrue(more.getMessage().contains("drew only 1"), more.getMessage());

            RecordedNoise stacked = new RecordedNoise("other").stackIfPresent(inputs, "other.scheduler_noise");
            assertThrows(AssertionError.class, stacked::assertAllUsed, "3 recorded, none used");
            assertThrows(AssertionError.class, () -> stacked.next(new long[] {2, 1}, DType.FLOAT32, Device.CPU), "another shape");
        }
    }

    @Test
    void aKindWithoutACheckFailsWhereTheCasesAreRequiredUnlessListed() {
        assertThrows(AssertionError.class, () -> GoldenParityTest.unchecked("stable_diffusion_new_thing", true), "unlisted, required");
        var optional = assertThrows(org.opentest4j.TestAbortedException.class, () -> GoldenParityTest.unchecked("stable_diffusion_new_thing", false));
        assertTrue(optional.getMessage().contains("stable_diffusion_new_thing"), optional.getMessage());
        if (GoldenParityTest.NOT_BUILT_YET.isEmpty()) return;  // every kind is built
        String listed = GoldenParityTest.NOT_BUILT_YET.keySet().iterator().next();
        var skipped = assertThrows(org.opentest4j.TestAbortedException.class, () -> GoldenParityTest.unchecked(listed, true));
        assertTrue(skipped.getMessage().contains("issue"), skipped.getMessage());
    }
}
