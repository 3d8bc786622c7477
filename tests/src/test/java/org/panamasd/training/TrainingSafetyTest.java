package org.panamasd.training;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.support.NativeTest;

/** What keeps a long run safe: atomic checkpoints, a NaN stop, per-step seeds, learning-rate schedule, captions. */
class TrainingSafetyTest extends NativeTest {

    @Test
    void aSaveInterruptedBetweenItsRenamesLeavesTheOldCheckpointFindable(@TempDir Path tmp) throws Exception {
        try (Scope scope = Scope.open()) {
            Map<String, Tensor> weights = new LinkedHashMap<>();
            weights.put("w", Tensor.of(new float[] {1, 2, 3}, 3));
            Path dir = tmp.resolve("checkpoint");
            TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(5, 1), Map.of("model", weights), Map.of());
            // a crash after "DIR -> DIR.old" and before "fresh -> DIR": only DIR.old and a partial temporary remain
            Files.move(dir, tmp.resolve("checkpoint.old"));
            Files.createDirectories(tmp.resolve("checkpoint.tmp123"));
            Path found = TrainingCheckpoint.latest(dir);
            assertEquals(tmp.resolve("checkpoint.old"), found);
            Map<String, Tensor> into = new LinkedHashMap<>();
            into.put("w", Tensor.zeros(3));
            assertEquals(5, TrainingCheckpoint.load(found, Map.of("model", into), Map.of()).step());
            assertArrayEquals(new float[] {1, 2, 3}, into.get("w").toFloatArray());
            // the next save completes and cleans up the old one
            TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(6, 1), Map.of("model", weights), Map.of());
            assertEquals(dir, TrainingCheckpoint.latest(dir));
            assertFalse(Files.exists(tmp.resolve("checkpoint.old")));
            // a checkpoint of another shape is refused by name
            Map<String, Tensor> wrong = new LinkedHashMap<>();
            wrong.put("w", Tensor.zeros(4));
            var e = assertThrows(IllegalArgumentException.class, () -> TrainingCheckpoint.load(dir, Map.of("model", wrong), Map.of()));
            assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("[3]"), e.getMessage());
        }
    }

    @Test
    void aNonFiniteLossStopsNamingTheStepAndTheTerm() {
        assertEquals(0.5, LossCheck.finite("mse", 0.5, 3));
        var e = assertThrows(ArithmeticException.class, () -> LossCheck.finite("distillation", Double.NaN, 42));
        assertTrue(e.getMessage().contains("distillation") && e.getMessage().contains("42"), e.getMessage());
        assertThrows(ArithmeticException.class, () -> LossCheck.finite("r1", Double.POSITIVE_INFINITY, 1));
    }

    @Test
    void stepSeedsDependOnSeedAndStepOnly() {
        try (Scope scope = Scope.open(); Generator a = StepSeeds.forStep(7, 100); Generator b = StepSeeds.forStep(7, 100);
             Generator c = StepSeeds.forStep(7, 101); Generator d = StepSeeds.forStep(8, 100)) {
            float[] x = Tensor.randn(a, 16).toFloatArray();
            assertArrayEquals(x, Tensor.randn(b, 16).toFloatArray());
            assertFalse(java.util.Arrays.equals(x, Tensor.randn(c, 16).toFloatArray()));
            assertFalse(java.util.Arrays.equals(x, Tensor.randn(d, 16).toFloatArray()));
        }
    }

    @Test
    void warmUpThenCosineDecay() {
        LearningRateSchedule lr = new LearningRateSchedule(1e-3, 10, 110, 0.1);
        assertClose(1e-4, lr.at(1), 1e-15);
        assertClose(1e-3, lr.at(10), 1e-15);
        assertClose(1e-3 * (0.1 + 0.9 * 0.5), lr.at(60), 1e-12);  // half way through the decay: cos = 0
        assertClose(1e-4, lr.at(110), 1e-12);
    }

    @Test
    void everyCaptionNamesItsClass() {
        try (Scope scope = Scope.open(); Generator g = new Generator(1)) {
            for (int c = 0; c < FashionCaptions.classes(); c++) {
                for (String caption : FashionCaptions.all(c)) assertEquals(c, FashionCaptions.classOf(caption), caption);
                assertEquals(c, FashionCaptions.classOf(FashionCaptions.prompt(c)));
            }
            long[] labels = {0, 6, 9, 7};
            String[] drawn = FashionCaptions.random(labels, g);
            for (int i = 0; i < labels.length; i++) assertEquals(labels[i], FashionCaptions.classOf(drawn[i]), drawn[i]);
            assertEquals(-1, FashionCaptions.classOf("a castle at night"));
        }
    }
}
