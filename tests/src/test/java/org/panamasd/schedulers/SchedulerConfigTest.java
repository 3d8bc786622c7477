package org.panamasd.schedulers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.support.NativeTest;

class SchedulerConfigTest extends NativeTest {

    @Test
    void invalidValuesAreRejectedByName() {
        var betas = assertThrows(IllegalArgumentException.class,
                () -> new DDPMScheduler(DiffusersConfig.parse("{\"beta_start\": 0.02, \"beta_end\": 0.001}")));
        assertTrue(betas.getMessage().contains("beta_end") && betas.getMessage().contains("beta_start"), betas.getMessage());
        var schedule = assertThrows(IllegalArgumentException.class, () -> new DDIMScheduler(DiffusersConfig.parse("{\"beta_schedule\": \"cubic\"}")));
        assertTrue(schedule.getMessage().contains("cubic"), schedule.getMessage());
        var type = assertThrows(IllegalArgumentException.class, () -> new DDIMScheduler(DiffusersConfig.parse("{\"steps_offset\": \"one\"}")));
        assertTrue(type.getMessage().contains("steps_offset"), type.getMessage());
        Scheduler ddim = new DDIMScheduler(DiffusersConfig.empty());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ddim.setTimesteps(0)).getMessage().contains("at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ddim.setTimesteps(1001)).getMessage().contains("exceeds num_train_timesteps"));
        var unknown = assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(DiffusersConfig.parse("{\"_class_name\": \"UniPCMultistepScheduler\"}")));
        assertTrue(unknown.getMessage().contains("UniPCMultistepScheduler"), unknown.getMessage());
        var prk = assertThrows(IllegalArgumentException.class, () -> new PNDMScheduler(DiffusersConfig.empty()).setTimesteps(3));
        assertTrue(prk.getMessage().contains("skip_prk_steps"), prk.getMessage());
    }

    @Test
    void unknownFieldsAreWarnedAboutNotFatal() {
        DiffusersConfig config = DiffusersConfig.parse("{\"_class_name\": \"EulerDiscreteScheduler\", \"skip_prk_steps\": true, \"beta_schedule\": \"scaled_linear\"}");
        assertEquals(List.of("skip_prk_steps"), config.warnUnknown("EulerDiscreteScheduler", EulerDiscreteScheduler.FIELDS));
        assertInstanceOf(EulerDiscreteScheduler.class, Schedulers.fromConfig(config));
    }

    @Test
    void theSameSeedGivesTheSameTrajectory() {
        float[] first = null;
        for (int run = 0; run < 2; run++) {
            try (Scope scope = Scope.open(); Generator g = new Generator(2024)) {
                Scheduler s = new EulerAncestralDiscreteScheduler(DiffusersConfig.empty().with("beta_schedule", "scaled_linear"));
                s.setTimesteps(5);
                Tensor x = Tensor.randn(g, 1, 4, 8, 8).mul(s.initNoiseSigma());
                for (double t : s.timesteps()) x = s.step(s.scaleModelInput(x, t).mul(0.1), t, x, NoiseSource.of(g)).prevSample();
                float[] values = x.toFloatArray();
                if (first == null) first = values;
                else assertArrayEquals(first, values);
            }
        }
    }

    @Test
    void guidanceCombinesAndRescales() {
        try (Scope scope = Scope.open(); Generator g = new Generator(3)) {
            Tensor uncond = Tensor.randn(g, 2, 4, 4, 4), cond = Tensor.randn(g, 2, 4, 4, 4);
            Tensor guided = ClassifierFreeGuidance.combine(uncond, cond, 7.5);
            assertArrayEquals(uncond.mul(-6.5).add(cond.mul(7.5)).toFloatArray(), guided.toFloatArray(), 1e-5f);
            assertArrayEquals(guided.toFloatArray(), ClassifierFreeGuidance.combine(uncond, cond, 7.5, 0).toFloatArray());
            // phi = 1: the result has the conditional prediction's per-sample std
            Tensor rescaled = ClassifierFreeGuidance.combine(uncond, cond, 7.5, 1.0);
            long[] dims = {1, 2, 3};
            assertArrayEquals(cond.std(dims, 1, false).toFloatArray(), rescaled.std(dims, 1, false).toFloatArray(), 1e-5f);
            assertFalse(ClassifierFreeGuidance.enabled(1.0));
            assertTrue(ClassifierFreeGuidance.enabled(1.5));
            Tensor batched = Tensor.cat(0, uncond, cond);
            assertArrayEquals(guided.toFloatArray(), ClassifierFreeGuidance.guideBatched(batched, 7.5, 0).toFloatArray());
        }
    }

    @Test
    void velocityAndAddNoiseInvertEachOther() {
        try (Scope scope = Scope.open(); Generator g = new Generator(5)) {
            NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.empty());
            Tensor x0 = Tensor.randn(g, 3, 2, 4), eps = Tensor.randn(g, 3, 2, 4);
            long[] t = {10, 500, 990};
            Tensor xt = schedule.addNoise(x0, eps, t);
            Tensor v = schedule.velocity(x0, eps, t);
            // x_0 = a x_t - s v for each row
            for (int i = 0; i < 3; i++) {
                double a = Math.sqrt(schedule.alphaCumprod((int) t[i])), s = Math.sqrt(1 - schedule.alphaCumprod((int) t[i]));
                Tensor recovered = PredictionType.V_PREDICTION.originalSample(v.get(i), xt.get(i), a, s);
                assertArrayEquals(x0.get(i).toFloatArray(), recovered.toFloatArray(), 1e-4f);
            }
        }
    }

    @Test
    void aMultistepSchedulerCanServeRunsOnDifferentThreads() throws Exception {
        DPMSolverMultistepScheduler dpm = new DPMSolverMultistepScheduler(DiffusersConfig.empty().with("beta_schedule", "scaled_linear"));
        java.util.concurrent.Callable<float[]> run = () -> {
            try (Scope scope = Scope.open(); Generator g = new Generator(1)) {
                dpm.setTimesteps(4);
                Tensor x = Tensor.randn(g, 1, 4, 4, 4);
                for (double t : dpm.timesteps()) x = dpm.step(x.mul(0.1), t, x, NoiseSource.of(g)).prevSample();
                return x.toFloatArray();
            }
        };
        try (var first = java.util.concurrent.Executors.newSingleThreadExecutor(); var second = java.util.concurrent.Executors.newSingleThreadExecutor()) {
            float[] a = first.submit(run).get();
            float[] b = second.submit(run).get();  // resets history kept by the first thread's run
            assertArrayEquals(a, b);
        }
        dpm.close();
    }
}
