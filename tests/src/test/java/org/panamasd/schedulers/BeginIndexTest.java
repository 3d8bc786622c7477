package org.panamasd.schedulers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.support.NativeTest;

/**
 * set_begin_index, which image to image uses: add_noise and the first step take the begin position whatever
 * timestep is passed, setTimesteps clears it, and out-of-range positions fail.
 */
class BeginIndexTest extends NativeTest {
    private static final DiffusersConfig CONFIG = DiffusersConfig.empty().with("beta_schedule", "scaled_linear").with("beta_start", 0.00085)
            .with("beta_end", 0.012).with("timestep_spacing", "leading").with("steps_offset", 1);

    @Test
    void theBeginIndexDecidesAddNoisesSigmaUntilTheNextSetTimesteps() {
        for (String name : List.of("EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "LMSDiscreteScheduler", "HeunDiscreteScheduler")) {
            try (Scope scope = Scope.open(); Scheduler s = Schedulers.create(name, CONFIG)) {
                s.setTimesteps(5);
                double[] t = s.timesteps(), sigmas = ((SigmaScheduler) s).sigmas();
                Tensor zero = Tensor.zeros(1, 1), one = Tensor.ones(1, 1);
                assertEquals(sigmas[0], s.addNoise(zero, one, new double[] {t[0]}).item(), 1e-4 * sigmas[0], name + ": looked up");
                s.setBeginIndex(2);
                // the begin position wins over the timestep's own (as the reference, which ignores it then)
                assertEquals(sigmas[2], s.addNoise(zero, one, new double[] {t[0]}).item(), 1e-4 * sigmas[2], name + ": begin index");
                s.setTimesteps(5);
                assertEquals(sigmas[0], s.addNoise(zero, one, new double[] {t[0]}).item(), 1e-4 * sigmas[0], name + ": cleared");
                var e = assertThrows(IllegalArgumentException.class, () -> s.setBeginIndex(t.length));
                assertTrue(e.getMessage().contains("begin index"), e.getMessage());
            }
        }
    }

    @Test
    void theFirstStepStartsAtTheBeginIndex() {
        try (Scope scope = Scope.open(); Scheduler s = Schedulers.create("EulerDiscreteScheduler", CONFIG)) {
            s.setTimesteps(4);
            double[] t = s.timesteps(), sigmas = ((SigmaScheduler) s).sigmas();
            s.setBeginIndex(1);
            // a zero model output makes an Euler step scale nothing: x stays x, so check the model input's scaling
            Tensor x = Tensor.ones(1, 1);
            assertEquals(1 / Math.sqrt(sigmas[1] * sigmas[1] + 1), s.scaleModelInput(x, t[0]).item(), 1e-6);
        }
    }
}
