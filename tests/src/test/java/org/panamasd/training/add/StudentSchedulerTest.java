package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.schedulers.Schedulers;
import org.panamasd.support.NativeTest;

/** The shipped student samples as ADD trains it: the student's timesteps, and fresh noise between steps. */
class StudentSchedulerTest extends NativeTest {
    private static final String TEACHER = """
            {"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
             "prediction_type": "v_prediction", "rescale_betas_zero_snr": true, "timestep_spacing": "trailing", "set_alpha_to_one": true,
             "steps_offset": 1, "clip_sample": false}""";

    @Test
    void stepsAreTheStudentsTimesteps() {
        DiffusersConfig config = StudentScheduler.of(DiffusersConfig.parse(TEACHER), AddConfig.defaults().studentTimesteps());
        Scheduler scheduler = Schedulers.fromConfig(config);
        scheduler.setTimesteps(4);
        assertArrayEquals(new double[] {999, 749, 499, 249}, scheduler.timesteps());
        scheduler.setTimesteps(2);
        assertArrayEquals(new double[] {999, 499}, scheduler.timesteps());
        scheduler.setTimesteps(12);  // a user may ask for more steps than the student trained on
        assertEquals(12, scheduler.timesteps().length);
        assertEquals(999, scheduler.timesteps()[0]);
        var e = assertThrows(IllegalArgumentException.class, () -> StudentScheduler.of(DiffusersConfig.parse(TEACHER), new long[] {999, 500}));
        assertTrue(e.getMessage().contains("999, 500"), e.getMessage());
    }

    @Test
    void theSecondStepNoisesThePredictionWithFreshNoise() {
        DiffusersConfig teacher = DiffusersConfig.parse(TEACHER);
        NoiseSchedule schedule = NoiseSchedule.fromConfig(teacher);
        try (Scope scope = Scope.open(); Generator g = new Generator(1); Generator stepNoise = new Generator(2); Generator replay = new Generator(2)) {
            Scheduler scheduler = Schedulers.fromConfig(StudentScheduler.of(teacher, AddConfig.defaults().studentTimesteps()));
            scheduler.setTimesteps(2);
            Tensor start = Tensor.randn(g, 2, 4, 4, 4), x0 = Tensor.randn(g, 2, 4, 4, 4);
            // at t = 999 with zero terminal SNR x_t = noise and v = -x_0 (v = a eps - s x_0 with a = 0, s = 1)
            Tensor next = scheduler.step(x0.neg(), 999, start, NoiseSource.of(stepNoise)).prevSample();
            Tensor fresh = Tensor.randn(replay, 2, 4, 4, 4);
            double a = Math.sqrt(schedule.alphaCumprod(499)), s = Math.sqrt(1 - schedule.alphaCumprod(499));
            assertClose(x0.mul(a).add(fresh.mul(s)).toDoubleArray(), next.toDoubleArray(), 1e-4, 1e-4);
            // DDIM with eta = 0 would have re-used the start noise: the fresh-noise sample is not that
            double reused = next.sub(x0.mul(a).add(start.mul(s))).abs().max().item();
            assertTrue(reused > 0.1, "the step re-noised with its input's own noise");
        }
    }
}
