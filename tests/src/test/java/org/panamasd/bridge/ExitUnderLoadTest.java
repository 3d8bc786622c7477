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
 * crashed the process in oneDNN about one time in three (hs_err, exit 134). The wait itself is shown with a
 * call held inside the shim for a known time (psd_test_hold): the exit must last until it returns.
 */
class ExitUnderLoadTest {

    /** The child: convolutions forward and backward until killed; with "hold", one native call of 3 s. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("hold")) {
            try (Scope scope = Scope.open(); java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                Tensor t = Tensor.ones(4);
                // a first call of no length links the downcall, so that the timed one starts right after "holding"
                org.panamasd.internal.panamasd_h.psd_test_hold(t.handle(), 0, arena.allocate(java.lang.foreign.ValueLayout.JAVA_BOOLEAN));
                System.out.println("holding");
                System.out.flush();
                org.panamasd.internal.panamasd_h.psd_test_hold(t.handle(), HOLD_MILLIS, arena.allocate(java.lang.foreign.ValueLayout.JAVA_BOOLEAN));
                System.out.println("held");
            }
            Thread.sleep(Long.MAX_VALUE);
        }
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

    static final int HOLD_MILLIS = 3000;

    private static Process child(Path log, String... args) throws Exception {
        String launcher = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new java.util.ArrayList<>(List.of(launcher, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library"),
                "-XX:ErrorFile=/dev/null", "-cp", System.getProperty("java.class.path"), ExitUnderLoadTest.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    @Test
    void theExitWaitsForTheNativeCallInFlight() throws Exception {
        Path log = Files.createTempFile("exit-hold", ".log");
        try {
            Process child = child(log, "hold");
            for (int i = 0; i < 600 && !Files.readString(log).contains("holding"); i++) Thread.sleep(50);
            assertTrue(Files.readString(log).contains("holding"), "the child started its call");
            Thread.sleep(300);  // inside the 3 s call
            long t0 = System.nanoTime();
            child.destroy();  // SIGTERM
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the child exits");
            double seconds = (System.nanoTime() - t0) / 1e9;
            String output = Files.readString(log);
            assertEquals(143, child.exitValue(), "128 + SIGTERM, not a crash; output:\n" + output);
            assertFalse(output.contains("still running"), "the exit found no call left running:\n" + output);
            assertTrue(seconds >= 2.0, "the exit waited for the call (about 2.7 s left of it), it took " + seconds + " s");
        } finally {
            Files.deleteIfExists(log);
        }
    }

    @Test
    void killingTheProcessDuringNativeCallsNeverCrashesIt() throws Exception {
        Path log = Files.createTempFile("exit-under-load", ".log");
        try {
            for (int attempt = 0; attempt < 2; attempt++) {  // a smoke test: the wait itself is shown above
                Process child = child(log);
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
