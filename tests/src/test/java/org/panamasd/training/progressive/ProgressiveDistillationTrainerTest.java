package org.panamasd.training.progressive;

import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.support.NativeTest;

/**
 * With a teacher that knows x_0 exactly, two DDIM steps are exact, so the one-step target x̃ must be x_0 itself
 * at every student timestep (zero terminal SNR included): a student that also predicts x_0 has zero loss, and
 * one that is off by a constant learns it away.
 */
class ProgressiveDistillationTrainerTest extends NativeTest {

    @Test
    void anExactTeachersTwoStepsGiveX0AsTheOneStepTarget() {
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"rescale_betas_zero_snr\": true, \"beta_schedule\": \"scaled_linear\"}"));
        try (Scope scope = Scope.open(); Generator g = new Generator(5)) {
            Tensor data = Tensor.randn(g, 16, 4, 4, 4);
            Tensor offset = Tensor.zeros(1).requiresGrad(true);
            Map<String, Tensor> params = new LinkedHashMap<>();
            params.put("offset", offset);
            try (ProgressiveDistillationTrainer exact = new ProgressiveDistillationTrainer((x, t, c) -> data.add(offset), params,
                    (x, t, c) -> data, schedule, 4, 1.0, 0.05, 0.9)) {
                // the loss before the first step (Adam then moves the offset by about lr even on a zero-ish gradient)
                assertClose(0.0, exact.step(data, Tensor.zeros(16, 1, 8), null, g), 1e-9);
            }
            try (Scope s = Scope.open(); var frozen = org.panamasd.Autograd.noGrad()) {
                offset.copyFrom(Tensor.full(0.5, 1));
            }
            try (ProgressiveDistillationTrainer off = new ProgressiveDistillationTrainer((x, t, c) -> data.add(offset), params,
                    (x, t, c) -> data, schedule, 2, 1.0, 0.05, 0.9)) {
                double first = off.step(data, Tensor.zeros(16, 1, 8), null, g);
                assertTrue(first >= 0.25 - 1e-6, "the truncated-SNR weight is at least 1: " + first);
                for (int i = 0; i < 20; i++) off.step(data, Tensor.zeros(16, 1, 8), null, g);
                assertTrue(Math.abs(offset.item()) < 0.25, "the student learns the constant away: " + offset.item());
            }
        }
    }
}
