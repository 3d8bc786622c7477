package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.support.NativeTest;

/**
 * NFSD's target against values worked out by hand from its definition (Katzir et al. 2023): the student moves
 * along s_t (delta_D + g delta_C), delta_D = eps(x_t, empty) only below t = 200 of 1,000, and never along the
 * noise it was re-noised with.
 */
class NoiseFreeScoreDistillationTest extends NativeTest {
    private static final NoiseSchedule SCHEDULE = NoiseSchedule.fromConfig(DiffusersConfig.parse("{}"));
    private static final long LOW = 50, HIGH = 600;
    private static final float[] STUDENT = {0.5f, -1f, 0.25f, 2f}, NOISE = {1f, 0.5f, -2f, 0.75f};

    /** Row 0 at t = 50, row 1 at t = 600; each row holds the same 4 values. */
    private static float[] target(float unconditional, float conditional, double guidance) {
        try (Scope scope = Scope.open()) {
            Tensor student = Tensor.of(concat(STUDENT, STUDENT), 2, 1, 2, 2);
            long[] t = {LOW, HIGH};
            Tensor renoised = SCHEDULE.addNoise(student, Tensor.of(concat(NOISE, NOISE), 2, 1, 2, 2), t);
            Tensor u = Tensor.full(unconditional, 2, 1, 2, 2), c = Tensor.full(conditional, 2, 1, 2, 2);
            return NoiseFreeScoreDistillation.target(student, renoised, t, u, c, guidance, SCHEDULE).toFloatArray();
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void aboveTheDomainLimitATeacherWithoutAConditionTermLeavesTheStudentWhereItIs() {
        // teacher predicts x_0 = 0 with and without the condition: delta_C = 0, delta_D = 0 at t = 600, so the
        // target is x̂ itself, whatever the noise (SDS's target there, (x_t - s eps_teacher) / a, would not be)
        float[] target = target(0f, 0f, 3.0);
        for (int i = 0; i < 4; i++) assertEquals(STUDENT[i], target[4 + i], 1e-6, "t = 600, element " + i);
    }

    @Test
    void belowItTheUnconditionalPredictionIsTheDomainTerm() {
        // x̂_0(empty) = 0 means s eps(x_t, empty) = x_t, so the target is x̂ - x_t = x̂ - (a x̂ + s eps)
        double a = Math.sqrt(SCHEDULE.alphaCumprod((int) LOW)), s = Math.sqrt(1 - SCHEDULE.alphaCumprod((int) LOW));
        float[] target = target(0f, 0f, 3.0);
        for (int i = 0; i < 4; i++) assertEquals(STUDENT[i] - (a * STUDENT[i] + s * NOISE[i]), target[i], 1e-5, "t = 50, element " + i);
    }

    @Test
    void theConditionTermPullsTowardsTheConditionalPredictionScaledByGuidance() {
        // x̂_0(y) - x̂_0(empty) = 1: s g delta_C = -g a, so the target gains g a_t at each row (plus row 0's domain term)
        double g = 2.0;
        double aLow = Math.sqrt(SCHEDULE.alphaCumprod((int) LOW)), sLow = Math.sqrt(1 - SCHEDULE.alphaCumprod((int) LOW));
        double aHigh = Math.sqrt(SCHEDULE.alphaCumprod((int) HIGH));
        float[] target = target(0f, 1f, g);
        for (int i = 0; i < 4; i++) {
            assertEquals(STUDENT[i] + g * aHigh, target[4 + i], 1e-5, "t = 600, element " + i);
            assertEquals(STUDENT[i] - (aLow * STUDENT[i] + sLow * NOISE[i]) + g * aLow, target[i], 1e-5, "t = 50, element " + i);
        }
    }
}
