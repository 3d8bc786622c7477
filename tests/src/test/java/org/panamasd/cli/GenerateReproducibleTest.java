package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same command and seed give the same PNG bytes process after process on one machine: the attention paths that
 * the first process timed per shape (flash kernels or math path, which differ at float rounding) are kept in the
 * machine's cache directory and taken by the next (AttentionChoices). Seen failing before the file existed: each
 * process timed anew and three runs of the main job gave three different PNGs in bfloat16.
 */
class GenerateReproducibleTest {
    private static String run(Path cache, Path out) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-Dpanamasd.library=" + System.getProperty("panamasd.library"), "-Dpanamasd.conv.cacheDir=" + cache, "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "generate", "--model", Paths.root().resolve("models/fashion-turbo").toString(), "--prompt", "a photo of a sneaker",
                "--batch", "2", "--seed", "3", "--out", out.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, child.waitFor(), output);
        return output;
    }

    @Test
    void twoProcessesDrawTheSameBytes(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("cache"), first = dir.resolve("first.png"), second = dir.resolve("second.png");
        run(cache, first);
        // where the shim times attention (libtorch 1.x, a CPU with its kernels), the first process kept its choices
        if (!org.panamasd.Torch.hasFusedAttention() && !org.panamasd.Torch.flashAttentionIsa().equals("none"))
            try (var files = Files.list(cache)) {
                assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("attention-choices-")), "the first process kept its attention choices");
            }
        run(cache, second);
        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(second), "the same command and seed, two processes, one machine");
    }
}
