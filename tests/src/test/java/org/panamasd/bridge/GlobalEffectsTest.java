package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.support.NativeTest;

/** The process-wide effects of loading the bridge can each be switched off (docs/architecture.md, "Global effects at load"). */
class GlobalEffectsTest extends NativeTest {

    /** What the child JVM runs: allocates 4 MiB and prints what the bridge counted and the thread count. */
    public static void main(String[] args) {
        try (Scope scope = Scope.open()) {
            Tensor.zeros(1024, 1024).add(1f);
            System.out.println("allocated=" + MemoryStats.now().allocatedBytes() + " threads=" + Torch.numThreads() + " pool=" + MemoryStats.pool().enabled());
        }
    }

    private static String child(String... properties) throws Exception {
        return child(java.util.Map.of(), properties);
    }

    private static String child(java.util.Map<String, String> environment, String... properties) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library")));
        command.addAll(List.of(properties));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), GlobalEffectsTest.class.getName()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().remove("PANAMASD_NUM_THREADS");
        builder.environment().putAll(environment);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), output);
        return output;
    }

    @Test
    void eachEffectCanBeSwitchedOff() throws Exception {
        String defaults = child();
        assertTrue(defaults.contains("allocated=") && !defaults.contains("allocated=0 "), "the counting allocator is on by default: " + defaults);
        assertTrue(defaults.contains("pool=true"), "the block pool is on by default: " + defaults);
        assertTrue(child("-Dpanamasd.allocator.pool=false").contains("pool=false"), "the block pool can be switched off");

        // libtorch's own thread count depends on the host (OpenMP's default): OMP_NUM_THREADS names one to find, a
        // count other than the processors' (what the bindings would set)
        String omp = String.valueOf(Runtime.getRuntime().availableProcessors() + 1);
        String off = child(java.util.Map.of("OMP_NUM_THREADS", omp), "-Dpanamasd.countingAllocator=false", "-Dpanamasd.malloc.tune=false", "-Dpanamasd.threads=0");
        assertTrue(off.contains("allocated=0 "), "libtorch's own allocator, nothing counted: " + off);
        assertTrue(off.contains("threads=" + omp + " "), "libtorch's own intra-op thread count (OMP_NUM_THREADS=" + omp + ") is left as it is: " + off);
        String set = child(java.util.Map.of("OMP_NUM_THREADS", omp));
        assertTrue(set.contains("threads=" + Runtime.getRuntime().availableProcessors() + " "), "by default the thread count is the processors': " + set);
    }

    @Test
    void aBadSwitchValueIsNamed() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library"),
                "-Dpanamasd.countingAllocator=maybe", "-cp", System.getProperty("java.class.path"), GlobalEffectsTest.class.getName())
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertNotEquals(0, process.waitFor());
        assertTrue(output.contains("panamasd.countingAllocator / PANAMASD_COUNTING_ALLOCATOR must be true or false, got 'maybe'"), output);
    }
}
