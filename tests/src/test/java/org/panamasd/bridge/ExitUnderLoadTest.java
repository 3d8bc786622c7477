package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * A JVM stopped (SIGTERM) while a thread is inside libtorch exits cleanly: the exit waits for the native
 * calls in flight before libtorch's static destructors run. Before that, a kill during a backward pass
 * crashed the process in oneDNN about one time in three (hs_err, exit 134).
 */
class ExitUnderLoadTest {

    /** The child: convolutions forward and backward until killed. */
    public static void main(String[] args) {
        try (Scope scope = Scope.open(); Generator g = new Generator(1)) {
            Tensor weight = Tensor.randn(g, 64, 64, 3, 3).requiresGrad(true);
            System.out.println("running");
            System.out.flush();
            while (true) {
                try (Scope step = Scope.open()) {
                    Tensor x = Tensor.randn(g, 8, 64, 32, 32);
                    org.panamasd.Functional.conv2d(x, weight, null, 1, 1).silu().sum().backward();
                    weight.zeroGrad();
                }
            }
        }
    }

    @Test
    void killingTheProcessDuringNativeCallsNeverCrashesIt() throws Exception {
        String launcher = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = Files.createTempFile("exit-under-load", ".log");
        try {
            for (int attempt = 0; attempt < 4; attempt++) {
                Process child = new ProcessBuilder(List.of(launcher, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library"),
                        "-XX:ErrorFile=/dev/null", "-cp", System.getProperty("java.class.path"), ExitUnderLoadTest.class.getName()))
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                for (int i = 0; i < 600 && !Files.readString(log).contains("running"); i++) Thread.sleep(50);
                assertTrue(Files.readString(log).contains("running"), "the child started computing");
                Thread.sleep(300 + 200L * attempt);  // deep inside the loop's native calls
                child.destroy();  // SIGTERM
                assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the child exits");
                String output = Files.readString(log);
                assertFalse(output.contains("A fatal error"), "no crash at exit:\n" + output);
                assertEquals(143, child.exitValue(), "128 + SIGTERM, not a crash; output:\n" + output);
            }
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
