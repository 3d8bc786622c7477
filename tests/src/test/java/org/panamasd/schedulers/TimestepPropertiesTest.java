package org.panamasd.schedulers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.support.NativeTest;

/**
 * For every beta schedule (with and without zero terminal SNR), every spacing and every step count the
 * schedulers accept: timesteps are strictly decreasing, inside [0, T) and of the requested count, and
 * alpha-bar is monotone.
 */
class TimestepPropertiesTest extends NativeTest {
    private static final List<String> SCHEDULERS = List.of("DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler",
            "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler");

    private static DiffusersConfig config(String beta, boolean zeroSnr, String spacing, int offset, int trainSteps) {
        return DiffusersConfig.empty().with("beta_schedule", beta).with("beta_start", 0.00085).with("beta_end", 0.012)
                .with("rescale_betas_zero_snr", zeroSnr).with("timestep_spacing", spacing).with("steps_offset", offset)
                .with("num_train_timesteps", trainSteps).with("prediction_type", zeroSnr ? "v_prediction" : "epsilon");
    }

    @Test
    void timestepsAreDecreasingInRangeAndOfTheRequestedCount() {
        int trainSteps = 1000;
        int[] counts = {1, 2, 3, 4, 7, 10, 25, 33, 50, 99, 100, 250, 333, 500, 999};
        int checked = 0;
        for (String beta : List.of("linear", "scaled_linear", "squaredcos_cap_v2"))
            for (boolean zeroSnr : new boolean[] {false, true})
                for (String spacing : List.of("leading", "trailing", "linspace"))
                    for (String name : SCHEDULERS) {
                        Scheduler s = Schedulers.create(name, config(beta, zeroSnr, spacing, 0, trainSteps));
                        for (int n : counts) {
                            s.setTimesteps(n);
                            assertDecreasingInRange(s.timesteps(), n, trainSteps, name + " " + beta + " " + spacing + " N=" + n);
                            checked++;
                        }
                    }
        assertTrue(checked > 1000);
    }

    @Test
    void lcmTimestepsFollowTheDistillationSchedule() {
        for (int original : new int[] {50, 100}) {
            Scheduler s = Schedulers.create("LCMScheduler", DiffusersConfig.empty().with("original_inference_steps", original));
            for (int n = 1; n <= original; n++) {
                s.setTimesteps(n);
                assertDecreasingInRange(s.timesteps(), n, 1000, "LCM original " + original + " N=" + n);
                assertEquals(999, s.timesteps()[0]);
            }
        }
    }

    @Test
    void alphaBarIsMonotone() {
        for (String beta : List.of("linear", "scaled_linear", "squaredcos_cap_v2"))
            for (boolean zeroSnr : new boolean[] {false, true}) {
                double[] alphaBar = NoiseSchedule.fromConfig(config(beta, zeroSnr, "leading", 0, 1000)).alphasCumprod();
                for (int i = 1; i < alphaBar.length; i++)
                    assertTrue(alphaBar[i] < alphaBar[i - 1] || (zeroSnr && alphaBar[i] == 0), beta + " zeroSnr=" + zeroSnr + " at " + i);
                assertTrue(alphaBar[0] < 1 && alphaBar[0] > 0.9);
                if (zeroSnr) assertEquals(0.0, alphaBar[999], "zero terminal SNR");
                else assertTrue(alphaBar[999] > 0);
            }
    }

    @Test
    void leadingSpacingWithAnOffsetCanLeaveTheRangeAndSaysSo() {
        Scheduler s = Schedulers.create("DDIMScheduler", config("scaled_linear", false, "leading", 1, 1000));
        s.setTimesteps(999);
        assertDecreasingInRange(s.timesteps(), 999, 1000, "DDIM leading offset 1 N=999");
        var e = assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(1000));
        assertTrue(e.getMessage().contains("1000"), e.getMessage());
    }

    private static void assertDecreasingInRange(double[] t, int n, int trainSteps, String what) {
        assertEquals(n, t.length, what + ": count");
        for (int i = 0; i < t.length; i++) {
            assertTrue(t[i] >= 0 && t[i] < trainSteps, what + ": t[" + i + "]=" + t[i] + " out of range");
            if (i > 0) assertTrue(t[i] < t[i - 1], what + ": not strictly decreasing at " + i + ": " + t[i - 1] + ", " + t[i]);
        }
    }
}
