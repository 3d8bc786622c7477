package org.panamasd.training;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * A checkpoint save killed at each of its steps (a child JVM halted by {@link TrainingCheckpoint#crashPoint}:
 * no finally block runs, as with SIGKILL) leaves a whole checkpoint that {@link TrainingCheckpoint#latest} finds,
 * holding either the previous state or the new one, never a mix; the next save completes and cleans up. Two
 * crashes in a row between the renames keep the only whole checkpoint.
 */
class CheckpointCrashTest extends NativeTest {
    static final int HALTED = 3;

    private static Map<String, Map<String, Tensor>> weights(float base) {
        Map<String, Tensor> model = new LinkedHashMap<>();
        model.put("w", Tensor.of(new float[] {base, base + 1, base + 2}, 3));
        model.put("b", Tensor.of(new float[] {-base}, 1));
        return Map.of("model", model);
    }

    /** The child: args DIR STEP CRASH_AT [initial]: saves step 1 first if asked, then STEP, halting at CRASH_AT. */
    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        long step = Long.parseLong(args[1]);
        TrainingCheckpoint.SaveStep crashAt = TrainingCheckpoint.SaveStep.valueOf(args[2]);
        try (Scope scope = Scope.open()) {
            if (args.length > 3) TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(1, 7), weights(1), Map.of());
            TrainingCheckpoint.crashPoint = reached -> {
                if (reached == crashAt) Runtime.getRuntime().halt(HALTED);
            };
            TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(step, 7), weights(step), Map.of());
        }
        System.exit(0);
    }

    private static void crash(Path dir, long step, TrainingCheckpoint.SaveStep at, boolean initial) throws Exception {
        String launcher = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(launcher, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library"),
                "-Dpanamasd.threads=1", "-cp", System.getProperty("java.class.path"), CheckpointCrashTest.class.getName(), dir.toString(), "" + step, at.name()));
        if (initial) command.add("initial");
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes());
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertEquals(HALTED, child.exitValue(), "the child halted at " + at + ":\n" + output);
    }

    /** The step of the whole checkpoint latest() finds, after checking its weights are that step's. */
    private static long wholeStep(Path dir) {
        Path found = TrainingCheckpoint.latest(dir);
        assertNotNull(found, "no whole checkpoint left");
        try (Scope scope = Scope.open()) {
            var into = weights(0);
            long step = TrainingCheckpoint.load(found, into, Map.of()).step();
            assertArrayEquals(new float[] {step, step + 1, step + 2}, into.get("model").get("w").toFloatArray(), "the weights of step " + step);
            assertArrayEquals(new float[] {-step}, into.get("model").get("b").toFloatArray());
            return step;
        }
    }

    @Test
    void aSaveKilledAtAnyStepLeavesAWholeCheckpointAndTheNextSaveCleansUp(@TempDir Path tmp) throws Exception {
        for (TrainingCheckpoint.SaveStep at : TrainingCheckpoint.SaveStep.values()) {
            Path dir = tmp.resolve(at.name()).resolve("checkpoint");
            crash(dir, 2, at, true);
            long step = wholeStep(dir);
            assertEquals(at.compareTo(TrainingCheckpoint.SaveStep.NEW_IN_PLACE) < 0 ? 1 : 2, step, "after a crash at " + at);
            try (Scope scope = Scope.open()) {
                TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(3, 7), weights(3), Map.of());
            }
            assertEquals(3, wholeStep(dir));
            assertEquals(dir, TrainingCheckpoint.latest(dir));
            try (Stream<Path> left = Files.list(dir.getParent())) {
                assertEquals(List.of("checkpoint"), left.map(p -> p.getFileName().toString()).toList(), "leftovers after " + at);
            }
        }
    }

    @Test
    void twoCrashesBetweenTheRenamesKeepTheOnlyWholeCheckpoint(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("checkpoint");
        crash(dir, 2, TrainingCheckpoint.SaveStep.PREVIOUS_SET_ASIDE, true);  // step 1 set aside at DIR.old, DIR absent
        assertEquals(1, wholeStep(dir));
        crash(dir, 3, TrainingCheckpoint.SaveStep.PREVIOUS_SET_ASIDE, false);  // the same again: step 1 must survive it
        assertEquals(1, wholeStep(dir));
    }

    @Test
    void weightsThatAreNotFiniteAreNotSavedAndThePreviousCheckpointStays(@TempDir Path tmp) {
        Path dir = tmp.resolve("checkpoint");
        try (Scope scope = Scope.open()) {
            TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(1, 7), weights(1), Map.of());
            var bad = weights(2);
            bad.get("model").put("b", Tensor.of(new float[] {Float.NaN}, 1));
            var e = assertThrows(ArithmeticException.class, () -> TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(2, 7), bad, Map.of()));
            assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("NaN"), e.getMessage());
            bad.get("model").put("b", Tensor.of(new float[] {Float.NEGATIVE_INFINITY}, 1));
            assertThrows(ArithmeticException.class, () -> TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(2, 7), bad, Map.of()));
        }
        assertEquals(1, wholeStep(dir));
        try (Scope scope = Scope.open()) {  // integer counters and empty tensors are saved as they are
            var withCounters = weights(3);
            withCounters.get("model").put("count", Tensor.of(new long[] {5}, 1));
            withCounters.get("model").put("empty", Tensor.zeros(0));
            TrainingCheckpoint.save(dir, new TrainingCheckpoint.State(3, 7), withCounters, Map.of());
        }
        assertEquals(3, wholeStep(dir));
    }

    @Test
    void aNonFiniteGradientNormStopsBeforeTheStep() {
        try (Scope scope = Scope.open()) {
            Tensor p = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
            p.mul(Tensor.of(new float[] {Float.POSITIVE_INFINITY, 1}, 2)).sum().backward();
            double norm = org.panamasd.optim.Optimizer.clipGradNorm(List.of(p), 1.0, 2.0);
            var e = assertThrows(ArithmeticException.class, () -> LossCheck.gradientNorm(norm, 9));
            assertTrue(e.getMessage().contains("step 9"), e.getMessage());
            assertEquals(0.5, LossCheck.gradientNorm(0.5, 9));
        }
    }
}
