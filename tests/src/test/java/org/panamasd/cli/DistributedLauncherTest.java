package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The launcher's options are parsed by picocli and the command's own arguments pass through in order. */
class DistributedLauncherTest {

    private static DistributedLauncher.Split split(String... args) {
        return DistributedLauncher.Split.of("train-t2i", args);
    }

    @Test
    void launcherOptionsInEitherFormLeaveTheCommandsArgumentsInOrder() {
        var s = split("--steps", "10", "--nproc=2", "--out", "runs/x", "--master-port", "29501", "--world-size=4", "--rank", "2");
        assertEquals(List.of("--steps", "10", "--out", "runs/x"), s.command());
        assertEquals(2, s.launcher().nproc);
        assertEquals(29501, s.launcher().masterPort);
        assertEquals(4, s.launcher().worldSize);
        assertEquals(2, s.launcher().rank);
        assertEquals("127.0.0.1", s.launcher().masterAddr);
        assertTrue(DistributedLauncher.requested(new String[] {"train-t2i", "--nproc=2"}), "--nproc=2 asks for the launcher");
        assertFalse(DistributedLauncher.requested(new String[] {"train-t2i", "--nprocs", "2"}));
        assertEquals(java.util.Set.of("nproc", "rank", "world-size", "master-addr", "master-port", "dist-timeout"), DistributedLauncher.OPTIONS);
    }

    @Test
    void badValuesAndRepeatsAreRefusedByName() {
        var fraction = assertThrows(IllegalArgumentException.class, () -> split("--nproc", "2.7"));
        assertTrue(fraction.getMessage().contains("--nproc") && fraction.getMessage().contains("2.7"), fraction.getMessage());
        var twice = assertThrows(IllegalArgumentException.class, () -> split("--nproc", "2", "--nproc=3"));
        assertTrue(twice.getMessage().contains("--nproc"), twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> split("--master-port"), "a missing value");
    }

    @Test
    void ranksDoNotInheritWhatNamesOneProcesssOwnResource() {
        List<String> launcher = List.of("--enable-native-access=ALL-UNNAMED", "-Xmx8g", "-agentlib:jdwp=transport=dt_socket,server=y,address=5005",
                "-XX:StartFlightRecording=filename=run.jfr", "-Xlog:gc:file=gc.log", "-Dpanamasd.threads=2");
        assertEquals(List.of("--enable-native-access=ALL-UNNAMED", "-Xmx8g", "-Dpanamasd.threads=2"), DistributedLauncher.inheritedJvmOptions(launcher));
    }
}
