package org.panamasd.bindgen;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/** -Djextract.trace.downcalls=true prints every native call with its arguments (read once, so checked in a fresh JVM). */
class TraceSwitchTest {

    /** What the child JVM runs: one op. */
    public static void main(String[] args) {
        try (Scope scope = Scope.open()) {
            Tensor.ones(2).add(1.5);
        }
    }

    @Test
    void theTraceSwitchPrintsEachNativeCall() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(java, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library"),
                "-Djextract.trace.downcalls=true", "-cp", System.getProperty("java.class.path"), TraceSwitchTest.class.getName());
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, child.waitFor(), output);
        assertTrue(output.contains("psd_tensor_ones("), output);
        assertTrue(output.lines().anyMatch(l -> l.startsWith("psd_tensor_add_scalar(") && l.contains(", 1.5, ")), output);
        assertTrue(output.contains("psd_tensor_free("), output);
    }
}
