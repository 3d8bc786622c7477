package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.MemoryStats;
import org.panamasd.Op;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;
import org.panamasd.support.NativeTest;

/**
 * The shim's own failure paths, reached through its test-only fault injection (psd_test_inject_fault: an
 * allocation that fails with std::bad_alloc at a chosen point) and psd_test_hold_until_exit (a reference
 * that only the library's static destructors drop). The scenarios that could end the process run in a child
 * JVM, so that a regression fails this test instead of the whole test run.
 */
class ShimFaultTest extends NativeTest {

    private static void inject(int kind, long countdown) {
        Native.check(panamasd_h.psd_test_inject_fault(kind, countdown), "psd_test_inject_fault");
    }

    /** What the child JVM runs: one scenario, then a normal exit. */
    public static void main(String[] args) {
        switch (args[0]) {
            case "error-message" -> {
                try (Scope scope = Scope.open()) {
                    inject(panamasd_h.PSD_TEST_FAULT_ERROR_MESSAGE(), 1);
                    try {
                        Tensor.ones(2, 3).matmul(Tensor.ones(2, 3));
                    } catch (TorchException e) {
                        System.out.println("first: " + e.nativeMessage());
                    }
                    try {
                        Tensor.ones(2, 3).matmul(Tensor.ones(2, 3));
                    } catch (TorchException e) {
                        System.out.println("second: " + e.nativeMessage());
                    }
                }
            }
            case "release-at-exit" -> {
                try (Scope scope = Scope.open()) {
                    MemorySegment data = Arena.ofAuto().allocate(ValueLayout.JAVA_FLOAT, 1024);
                    Tensor wrapped = Tensor.fromSegment(data, DType.FLOAT32, 1024);
                    Native.check(panamasd_h.psd_test_hold_until_exit(wrapped.handle()), "psd_test_hold_until_exit");
                }
                System.out.println("held; live wrapped segments " + MemoryStats.liveWrappedSegments());
            }
            default -> throw new IllegalArgumentException(args[0]);
        }
        System.out.println("exiting");
    }

    private static String child(String scenario) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library"),
                "-XX:ErrorFile=/dev/null", "-cp", System.getProperty("java.class.path"), ShimFaultTest.class.getName(), scenario))
                .redirectErrorStream(true).start();
        byte[] bytes = process.getInputStream().readAllBytes();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the child exits");
        String output = new String(bytes, StandardCharsets.UTF_8);
        assertFalse(output.contains("A fatal error"), "no crash:\n" + output);
        assertEquals(0, process.exitValue(), "a normal exit, not an abort or a crash; output:\n" + output);
        return output;
    }

    /** guarded's handlers are noexcept: a bad_alloc while storing the message would call std::terminate. */
    @Test
    void anErrorMessageThatCannotBeStoredIsReportedNotFatal() throws Exception {
        String output = child("error-message");
        assertTrue(output.contains("first: the error message could not be stored (out of memory)"), output);
        assertTrue(output.contains("second: ") && output.contains("cannot be multiplied"), "the next failure has its own message again:\n" + output);
    }

    /**
     * The last reference to wrapped memory goes during the library's static destructors, at exit: the shim
     * must not call into the JVM from there (it queues the release), or the exit crashes or hangs.
     */
    @Test
    void wrappedMemoryReleasedDuringProcessExitIsNoCrash() throws Exception {
        String output = child("release-at-exit");
        assertTrue(output.contains("held; live wrapped segments 1") && output.contains("exiting"), output);
    }

    /** A result that fails to convert after others were made must not leave their handles behind. */
    @Test
    void aBoxedCallWhoseLaterResultFailsLeavesNoHandle() {
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 5, 3, 2}, 2, 2);
            Op max = Op.find("aten::max", "dim");  // two results: values, indices
            long handles = MemoryStats.liveTensorCount();
            long bytes = MemoryStats.now().allocatedBytes();
            inject(panamasd_h.PSD_TEST_FAULT_OP_RESULT(), 2);  // the second result's conversion fails
            try {
                var failure = assertThrows(TorchException.class, () -> max.call(x, 1L, false));
                assertTrue(failure.nativeMessage().contains("bad_alloc"), failure.getMessage());
            } finally {
                inject(panamasd_h.PSD_TEST_FAULT_NONE(), 0);
            }
            assertEquals(handles, MemoryStats.liveTensorCount(), "no handle of the first result is left behind");
            assertEquals(bytes, MemoryStats.now().allocatedBytes(), "nor its memory");
            List<Object> results = max.call(x, 1L, false);  // disarmed: the same call works
            assertArrayEquals(new float[] {5, 3}, ((Tensor) results.get(0)).toFloatArray());
        }
    }
}
