package org.panamasd.training;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.panamasd.cli.DistributedLauncher;
import org.panamasd.support.NativeTest;
import org.panamasd.training.distributed.DistributedEnvironment;

/**
 * Data-parallel training across two hosts: two network namespaces joined by a veth pair (10.231.7.1 and
 * 10.231.7.2), one rank in each, as two machines would run it. The run equals one process's; the rendezvous
 * store listens on the master address given and nowhere else (not on the namespace's loopback). Needs root and
 * iproute2 (network namespaces); skipped elsewhere, naming what is missing.
 */
class TwoHostsTest extends NativeTest {
    private static final String MASTER = "10.231.7.1", OTHER = "10.231.7.2";

    private static int run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    /** A step of making the two hosts; where the machine cannot do it (a container without the rights), the test is skipped naming it. */
    private static void setUp(String what, String... command) throws Exception {
        Assumptions.assumeTrue(run(command) == 0, "two network namespaces cannot be made here (" + what + " failed: " + String.join(" ", command) + ")");
    }

    private static String output(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor(30, TimeUnit.SECONDS);
        return out;
    }

    @Test
    void twoRanksOnTwoHostsTrainWhatOneProcessDoesAndTheStoreListensOnlyOnTheMasterAddress() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root to make network namespaces");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")), "needs iproute2's ip");
        String a = "psd-a-" + ProcessHandle.current().pid(), b = "psd-b-" + ProcessHandle.current().pid();
        String vethA = "psdva" + ProcessHandle.current().pid() % 10000, vethB = "psdvb" + ProcessHandle.current().pid() % 10000;
        Path dir = Files.createTempDirectory("psd-two-hosts");
        List<Process> ranks = new ArrayList<>();
        try {
            setUp("ip netns add", "ip", "netns", "add", a);
            setUp("ip netns add", "ip", "netns", "add", b);
            setUp("a veth pair", "ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB);
            setUp("moving the veth ends", "ip", "link", "set", vethA, "netns", a);
            setUp("moving the veth ends", "ip", "link", "set", vethB, "netns", b);
            for (String[] host : new String[][] {{a, vethA, MASTER}, {b, vethB, OTHER}}) {
                setUp("an address", "ip", "-n", host[0], "addr", "add", host[2] + "/24", "dev", host[1]);
                setUp("a link up", "ip", "-n", host[0], "link", "set", host[1], "up");
                setUp("a link up", "ip", "-n", host[0], "link", "set", "lo", "up");
            }
            int port = DataParallelTest.freePort();
            Duration timeout = Duration.ofSeconds(60);
            List<String> java = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            java.addAll(DistributedLauncher.inheritedJvmOptions(ManagementFactory.getRuntimeMXBean().getInputArguments()));
            java.addAll(List.of("-Dpanamasd.threads=1", "-cp", System.getProperty("java.class.path"), DataParallelTest.class.getName(), dir.toString(), "-1", "-1"));
            for (int rank = 0; rank < 2; rank++) {
                List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", rank == 0 ? a : b));
                command.addAll(java);
                ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("rank-" + rank + ".log").toFile());
                builder.environment().putAll(new DistributedEnvironment(rank, 2, MASTER, port, timeout).variables());
                builder.environment().put("GLOO_SOCKET_IFNAME", rank == 0 ? vethA : vethB);  // each host's own interface
                ranks.add(builder.start());
                if (rank == 0) {  // rank 0 serves the store and waits for rank 1: see where it listens
                    String hex = String.format("%04X", port), listening = "";
                    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();  // a JVM's start on a loaded machine
                    while (!listening.contains(":" + hex) && System.nanoTime() < deadline && ranks.getFirst().isAlive()) {
                        Thread.sleep(25);
                        listening = output("ip", "netns", "exec", a, "sh", "-c", "cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == \"0A\" {print $2}'");
                    }
                    if (!listening.contains(":" + hex))
                        fail("rank 0 never listened on port " + port + (ranks.getFirst().isAlive() ? " within 60 s" : ": it exited") + "; its log:\n"
                                + read(dir.resolve("rank-0.log")));
                    List<String> onPort = listening.lines().filter(l -> l.endsWith(":" + hex)).toList();
                    assertEquals(List.of("0107E70A:" + hex), onPort, "the store listens on " + MASTER + " only");
                    assertNotEquals(0, run("ip", "netns", "exec", a, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + port),
                            "the store is not reachable on the namespace's loopback");
                }
            }
            for (int rank = 0; rank < 2; rank++) {
                assertTrue(ranks.get(rank).waitFor(120, TimeUnit.SECONDS), "rank " + rank + " finishes");
                int r = rank;
                assertEquals(0, ranks.get(rank).exitValue(), () -> "rank " + r + " failed:\n" + read(dir.resolve("rank-" + r + ".log")));
            }
            DataParallelTest.assertTheRanksTrainedWhatOneProcessDoes(dir);
        } finally {
            ranks.forEach(Process::destroyForcibly);
            run("ip", "netns", "del", a);  // deleting a namespace deletes its end of the veth pair, and so the pair
            run("ip", "netns", "del", b);
            DataParallelTest.delete(dir);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (Exception e) {
            return "(no log: " + e + ")";
        }
    }
}
