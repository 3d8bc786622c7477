package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.schedulers.DDIMScheduler;
import org.panamasd.schedulers.HeunDiscreteScheduler;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.support.NativeTest;

/** The reference's image-to-image rules that the tiny golden case does not reach: truncated strength, preprocessing. */
class ImageToImageRulesTest extends NativeTest {
    private static final DiffusersConfig SD = DiffusersConfig.empty().with("beta_schedule", "scaled_linear").with("beta_start", 0.00085)
            .with("beta_end", 0.012).with("steps_offset", 1).with("timestep_spacing", "leading");

    @Test
    void strengthKeepsTheTruncatedProductOfStepsAndStrength() {
        assertEquals(28, StrengthSchedule.check(100, 0.29), "int(100 * 0.29) = int(28.999...) = 28");
        assertEquals(3, StrengthSchedule.check(5, 0.6));
        assertEquals(10, StrengthSchedule.check(10, 1.0));
        assertThrows(IllegalArgumentException.class, () -> StrengthSchedule.check(10, 0.05), "keeps no step");
        assertThrows(IllegalArgumentException.class, () -> StrengthSchedule.check(10, 1.5));
        try (Scheduler ddim = new DDIMScheduler(SD)) {
            StrengthSchedule plan = StrengthSchedule.apply(ddim, 5, 0.6);
            assertEquals(2, plan.startStep());
            assertArrayEquals(new double[] {401, 201, 1}, plan.timesteps());
            assertEquals(401, plan.latentTimestep());
            assertEquals(5, ddim.timesteps().length, "the scheduler keeps its full-length setup");
        }
        try (Scheduler heun = new HeunDiscreteScheduler(SD)) {
            // a second-order scheduler's schedule counts model calls: the start moves by twice the steps skipped
            StrengthSchedule plan = StrengthSchedule.apply(heun, 4, 0.5);
            double[] all = heun.timesteps();
            assertEquals(all.length - 4, plan.timesteps().length);
            assertEquals(all[4], plan.latentTimestep());
        }
    }

    @Test
    void preprocessingMapsZeroOneToMinusOneOneFloorsTheSizeAndLeavesSignedImages() {
        try (Scope scope = Scope.open()) {
            Tensor unit = Tensor.full(0.25, 1, 3, 4, 6);
            assertArrayEquals(Tensor.full(-0.5, 1, 3, 4, 6).toFloatArray(), VaeImageProcessor.preprocess(unit, 2).toFloatArray());
            Tensor signed = Tensor.full(-0.25, 1, 3, 4, 6);
            assertArrayEquals(signed.toFloatArray(), VaeImageProcessor.preprocess(signed, 2).toFloatArray(), "already in [-1, 1]");
            Tensor odd = Tensor.arange(0, 3 * 5 * 7, 1, org.panamasd.DType.FLOAT32).div(3 * 5 * 7).reshape(1, 3, 5, 7);
            Tensor floored = VaeImageProcessor.preprocess(odd, 4);
            assertArrayEquals(new long[] {1, 3, 4, 4}, floored.shape(), "floored to multiples of the VAE factor");
            assertThrows(IllegalArgumentException.class, () -> VaeImageProcessor.preprocess(Tensor.zeros(1, 4, 8, 8), 2), "an image has 3 channels");
        }
    }
}
