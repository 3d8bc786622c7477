package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Autograd;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.support.NativeTest;

/** The timed attention choices kept per machine in a file, so that every process takes the path the first one timed. */
class AttentionChoicesTest extends NativeTest {
    private final String before = Torch.attentionChoice();

    @TempDir
    Path dir;

    @BeforeEach
    void timed() {
        Assumptions.assumeFalse(Torch.hasFusedAttention(), "this libtorch has a fused attention kernel, which the shim uses instead of its choice");
        Assumptions.assumeFalse(Torch.flashAttentionIsa().equals("none"), "this CPU has no flash kernels: there is nothing to choose");
        Torch.setAttentionChoice("timed");
    }

    @AfterEach
    void restore() {
        Torch.setAttentionChoice(before);
    }

    /** What one shape's choice is in a file: the row a process would write for (1, 2, 130, 97, 24, 24) float32, not causal. */
    private static long[] row(Tensor q, long winner) {
        long[][] rows = Torch.attentionChoices();
        for (long[] r : rows)
            if (r[1] == 2 && r[2] == q.size(2) && r[3] == 97 && r[4] == 24) return withWinner(r, winner);
        throw new AssertionError("the shape is not on record");
    }

    private static long[] withWinner(long[] r, long winner) {
        long[] copy = r.clone();
        copy[copy.length - 1] = winner;
        return copy;
    }

    private static String json(long[]... rows) {
        StringBuilder s = new StringBuilder("{\"format\": \"" + AttentionChoices.FORMAT + "\", \"choices\": [");
        for (int i = 0; i < rows.length; i++) s.append(i == 0 ? "" : ", ").append(java.util.Arrays.toString(rows[i]));
        return s.append("]}").toString();
    }

    @Test
    void aTimedShapeIsWrittenAndALaterProcessTakesTheFilesPathWithoutTimingIt() throws Exception {
        Path file = dir.resolve("attention-choices-test.json");
        try (Scope s = Scope.open(); Generator g = new Generator(21); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 1, 2, 130, 24), k = Tensor.randn(g, 1, 2, 97, 24), v = Tensor.randn(g, 1, 2, 97, 24);
            Torch.clearAttentionChoices();
            AttentionChoices first = new AttentionChoices(file);
            first.attend(q, k, v, null, false);
            JsonNode written = new ObjectMapper().readTree(file.toFile());
            assertEquals(1, written.get("choices").size(), written.toString());
            long[] timed = Torch.attentionChoices()[0];
            assertEquals(java.util.Arrays.toString(timed), written.get("choices").get(0).toString().replace(",", ", "));

            // a later process (nothing on record) whose file says math, then flash: that path, exactly, and no timing
            Tensor math, flash;
            Torch.setAttentionChoice("math");
            math = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            Torch.setAttentionChoice("flash");
            flash = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            assertTrue(math.sub(flash).abs().max().item() > 0, "two summation orders: the paths are told apart");
            Torch.setAttentionChoice("timed");
            for (long winner : new long[] {0, 1}) {
                Files.writeString(file, json(withWinner(timed, winner)), StandardCharsets.UTF_8);
                Torch.clearAttentionChoices();
                Tensor out = new AttentionChoices(file).attend(q, k, v, null, false);
                assertEquals(1, Torch.attentionTimings().shapes(), "put on record from the file, not timed");
                assertEquals(0.0, out.sub(winner == 1 ? flash : math).abs().max().item(), "the file's path: " + (winner == 1 ? "flash" : "math"));
            }
        }
    }

    @Test
    void anUnreadableFileOrRowIsIgnoredWithAWarningAndRewritten() throws Exception {
        Path file = dir.resolve("attention-choices-bad.json");
        try (Scope s = Scope.open(); Generator g = new Generator(22); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 1, 2, 131, 24), k = Tensor.randn(g, 1, 2, 97, 24), v = Tensor.randn(g, 1, 2, 97, 24);
            Files.writeString(file, "{not json", StandardCharsets.UTF_8);
            Torch.clearAttentionChoices();
            AttentionChoices choices = new AttentionChoices(file);
            choices.attend(q, k, v, null, false);
            assertTrue(choices.lastWarning() != null && choices.lastWarning().contains("cannot be read") && choices.lastWarning().contains(file.toString()),
                    choices.lastWarning());
            assertEquals(AttentionChoices.FORMAT, new ObjectMapper().readTree(file.toFile()).get("format").asText(), "rewritten");

            // rows of the wrong length or winner are skipped by count; the good one is used
            long[] good = row(q, 0);
            Files.writeString(file, json(good, new long[] {1, 2, 3}, withWinner(good, 7)), StandardCharsets.UTF_8);
            Torch.clearAttentionChoices();
            choices = new AttentionChoices(file);
            choices.attend(q, k, v, null, false);
            assertTrue(choices.lastWarning() != null && choices.lastWarning().contains("ignored 2 row(s)"), choices.lastWarning());
            assertEquals(1, Torch.attentionTimings().shapes());
        }
        var e = assertThrows(RuntimeException.class, () -> Torch.putAttentionChoices(new long[][] {{6, 2, 3, 4, 5, 6, 0, 2, 2, 7}}));
        assertTrue(e.getMessage().contains("row 0") && e.getMessage().contains("winner is 7"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Torch.putAttentionChoices(new long[][] {{1, 2}}));
        assertTrue(e.getMessage().contains("row 0 has 2 values"), e.getMessage());
    }

    @Test
    void aFileOfOlderKernelsIsNotTaken() throws Exception {
        Path file = dir.resolve("attention-choices-old.json");
        try (Scope s = Scope.open(); Generator g = new Generator(24); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 1, 2, 133, 24), k = Tensor.randn(g, 1, 2, 97, 24), v = Tensor.randn(g, 1, 2, 97, 24);
            Torch.clearAttentionChoices();
            new AttentionChoices(null).attend(q, k, v, null, false);
            long[] row = row(q, 1);
            Files.writeString(file, json(row).replace(AttentionChoices.FORMAT, "panama-sd attention choices 1, kernels 1"), StandardCharsets.UTF_8);
            Torch.clearAttentionChoices();
            AttentionChoices choices = new AttentionChoices(file);
            choices.attend(q, k, v, null, false);
            assertTrue(choices.lastWarning() != null && choices.lastWarning().contains("kernels " + org.panamasd.internal.panamasd_h.PSD_ATTENTION_KERNELS()),
                    "named as another format: " + choices.lastWarning());
            assertEquals(AttentionChoices.FORMAT, new ObjectMapper().readTree(file.toFile()).get("format").asText(), "timed again and rewritten");
        }
    }

    @Test
    void withoutAFileTheChoicesStayInMemory() {
        Torch.clearAttentionChoices();  // a shape another run's file put on record would not be timed
        AttentionChoices memory = new AttentionChoices(null);
        try (Scope s = Scope.open(); Generator g = new Generator(23); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 1, 2, 132, 24), k = Tensor.randn(g, 1, 2, 97, 24), v = Tensor.randn(g, 1, 2, 97, 24);
            long shapes = Torch.attentionTimings().shapes();
            memory.attend(q, k, v, null, false);
            assertEquals(shapes + 1, Torch.attentionTimings().shapes());
            assertNull(memory.file());
            assertNull(memory.lastWarning());
        }
    }
}
