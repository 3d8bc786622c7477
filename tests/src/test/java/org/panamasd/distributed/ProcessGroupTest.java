package org.panamasd.distributed;

import static org.junit.jupiter.api.Assertions.*;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.support.NativeTest;

/**
 * The c10d collectives and the gradient reducer, with the ranks of a group as threads of this JVM (each with
 * its own Gloo group over the loopback): quick, and the same code paths as separate processes.
 */
class ProcessGroupTest extends NativeTest {
    private static final ExecutorService RANKS = Executors.newFixedThreadPool(2);

    @AfterAll
    static void stop() {
        RANKS.shutdownNow();
    }

    /** Runs {@code body(rank)} for ranks 0 and 1 at once, each in a group of 2 joined through a fresh port. */
    private static <T> List<T> onTwoRanks(Duration timeout, Function<ProcessGroup, T> body) throws Exception {
        int port = freePort();
        return onRanks(rank -> {
            try (ProcessGroup group = ProcessGroup.tcp("127.0.0.1", port, rank, 2, timeout); Scope scope = Scope.open()) {
                return body.apply(group);
            }
        });
    }

    private static <T> List<T> onRanks(IntFunction<T> body) throws Exception {
        List<Future<T>> futures = new ArrayList<>();
        for (int rank = 0; rank < 2; rank++) {
            int r = rank;
            futures.add(RANKS.submit(() -> body.apply(r)));
        }
        List<T> results = new ArrayList<>();
        for (Future<T> f : futures) {
            try {
                results.add(f.get(60, TimeUnit.SECONDS));
            } catch (ExecutionException e) {
                if (e.getCause() instanceof Exception cause) throw cause;
                throw e;
            }
        }
        return results;
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The LISTEN sockets of this host on {@code port}, as "address:port" in /proc/net/tcp{,6}'s hex form. */
    private static List<String> listeners(int port) throws Exception {
        List<String> found = new ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path file = Path.of(table);
            if (!Files.isReadable(file)) continue;
            for (String line : Files.readAllLines(file).subList(1, Files.readAllLines(file).size())) {
                String[] f = line.trim().split("\\s+");
                String local = f[1];
                if (f[3].equals("0A") && Integer.parseInt(local.substring(local.indexOf(':') + 1), 16) == port) found.add(local);
            }
        }
        return found;
    }

    /**
     * Rank 0 serves the rendezvous store on the master address only (libtorch 1.13's TCPStore listened on every
     * interface), and a peer that sends garbage loses its connection without harming the store: the group still
     * forms and computes.
     */
    @Test
    void theRendezvousStoreListensOnlyOnTheMasterAddressAndSurvivesGarbage() throws Exception {
        int port = freePort();
        CountDownLatch rank0Started = new CountDownLatch(1);
        Future<double[]> rank0 = RANKS.submit(() -> {
            rank0Started.countDown();
            try (ProcessGroup group = ProcessGroup.tcp("127.0.0.1", port, 0, 2, Duration.ofSeconds(30)); Scope scope = Scope.open()) {
                Tensor a = Tensor.of(new float[] {1}, 1);
                group.allReduce(List.of(a), ProcessGroup.ReduceOp.SUM);
                return a.toDoubleArray();
            }
        });
        rank0Started.await();
        List<String> listening = List.of();
        for (int i = 0; i < 200 && listening.isEmpty(); i++) {
            Thread.sleep(25);
            listening = listeners(port);
        }
        assertFalse(listening.isEmpty(), "rank 0 listens on port " + port);
        assertEquals(List.of("0100007F:" + String.format("%04X", port)), listening, "only on 127.0.0.1, not on 0.0.0.0 or ::");
        for (byte[] garbage : List.of(new byte[] {99}, new byte[] {1, -1, -1, -1, -1, -1, -1, -1, 127}, "GET / HTTP/1.1\r\n\r\n".getBytes())) {
            try (java.net.Socket peer = new java.net.Socket("127.0.0.1", port)) {
                peer.setSoTimeout(5000);
                peer.getOutputStream().write(garbage);
                assertEquals(-1, peer.getInputStream().read(), "the store closes a connection that sends garbage");
            }
        }
        double[] rank1;
        try (ProcessGroup group = ProcessGroup.tcp("127.0.0.1", port, 1, 2, Duration.ofSeconds(30)); Scope scope = Scope.open()) {
            Tensor a = Tensor.of(new float[] {2}, 1);
            group.allReduce(List.of(a), ProcessGroup.ReduceOp.SUM);
            rank1 = a.toDoubleArray();
        }
        assertArrayEquals(new double[] {3}, rank0.get(60, TimeUnit.SECONDS));
        assertArrayEquals(new double[] {3}, rank1);
    }

    @Test
    void allReduceBroadcastAndBarrierAgreeAcrossRanks() throws Exception {
        assertTrue(ProcessGroup.available(ProcessGroup.Backend.GLOO), "this shim was built with c10d and Gloo");
        List<double[]> results = onTwoRanks(Duration.ofSeconds(20), group -> {
            int r = group.rank();
            Tensor a = Tensor.of(new float[] {r + 1, 2 * (r + 1)}, 2), b = Tensor.of(new float[] {10 * r}, 1, 1);
            group.allReduce(List.of(a, b), ProcessGroup.ReduceOp.SUM);  // two tensors, one flattened collective
            Tensor m = Tensor.of(new float[] {r, -r}, 2);
            group.allReduce(List.of(m), ProcessGroup.ReduceOp.MAX);
            Tensor c = Tensor.of(new float[] {100 + r, 200 + r, 300 + r}, 3);
            group.broadcast(List.of(c), 1);
            group.barrier();
            return Tensor.cat(0, a, b.reshape(1), m, c).toDoubleArray();
        });
        for (double[] got : results) assertArrayEquals(new double[] {3, 6, 10, 1, 0, 101, 201, 301}, got, 0);
    }

    @Test
    void aFileStoreFormsTheGroupToo() throws Exception {
        Path dir = Files.createTempDirectory("psd-filestore");
        Path file = dir.resolve("store");
        try {
            List<double[]> results = onRanks(rank -> {
                try (ProcessGroup group = ProcessGroup.file(ProcessGroup.Backend.GLOO, file, rank, 2, Duration.ofSeconds(20)); Scope s = Scope.open()) {
                    Tensor t = Tensor.of(new float[] {rank + 1}, 1);
                    group.allReduce(List.of(t), ProcessGroup.ReduceOp.SUM);
                    return t.toDoubleArray();
                }
            });
            for (double[] got : results) assertArrayEquals(new double[] {3}, got, 0);
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void aCollectiveThatAPeerNeverJoinsTimesOutWithAClearError() throws Exception {
        CountDownLatch rankZeroDone = new CountDownLatch(1);
        // one timeout covers forming the group too: long enough that a cold first rendezvous (a fresh CI JVM) never
        // uses it up, which 1.5 s did once
        List<String> outcomes = onTwoRanks(Duration.ofMillis(5000), group -> {
            if (group.rank() == 1) {  // alive, but never calls the collective
                try {
                    rankZeroDone.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return "";
            }
            long start = System.nanoTime();
            try {
                group.allReduce(List.of(Tensor.ones(4)), ProcessGroup.ReduceOp.SUM);
                return "returned";
            } catch (TorchException e) {
                return e.getMessage() + " | after " + (System.nanoTime() - start) / 1_000_000 + " ms";
            } finally {
                rankZeroDone.countDown();
            }
        });
        String failure = outcomes.get(0);
        assertTrue(failure.contains("timed out after 5000 ms"), failure);
        assertTrue(failure.contains("all_reduce failed on rank 0 of 2"), failure);
        long took = Long.parseLong(failure.replaceAll(".*\\| after (\\d+) ms$", "$1"));
        assertTrue(took >= 4900 && took < 30_000, "failed at the timeout, not before and not much later: " + took + " ms");
    }

    @Test
    void aBusyRendezvousPortIsAClearError() throws Exception {
        try (ServerSocket busy = new ServerSocket(0)) {
            int port = busy.getLocalPort();
            TorchException e = assertThrows(TorchException.class, () -> ProcessGroup.tcp("127.0.0.1", port, 0, 2, Duration.ofSeconds(5)));
            assertTrue(e.getMessage().contains("cannot serve the rendezvous store on 127.0.0.1:" + port), e.getMessage());
            assertTrue(e.getMessage().contains("is the port in use?"), e.getMessage());
        }
    }

    @Test
    void badArgumentsAreRefusedBeforeAnyNetworking() {
        TorchException e = assertThrows(TorchException.class, () -> ProcessGroup.tcp("127.0.0.1", 1234, 2, 2, Duration.ofSeconds(1)));
        assertTrue(e.getMessage().contains("rank must be in 0..1, got 2"), e.getMessage());
    }

    /** Per rank: [local gradients of step 1..., averaged gradients of step 1..., the same for step 2], and the reducer's counts. */
    private static List<double[]> trainTwoSteps(boolean overlap) throws Exception {
        return onTwoRanks(Duration.ofSeconds(20), group -> {
            int r = group.rank();
            Tensor w = Tensor.of(new float[] {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f}, 2, 3).requiresGrad(true);
            Tensor b = Tensor.of(new float[] {0.01f, 0.02f, 0.03f}, 3).requiresGrad(true);
            Tensor unused = Tensor.of(new float[] {1f, 2f}, 2).requiresGrad(true);
            // unused comes first, so its bucket is the last in backward order and cannot hold the others back
            List<Tensor> params = List.of(unused, w, b);
            List<Double> out = new ArrayList<>();
            // 8-byte buckets: one per parameter, so the hooks can start buckets during backward
            try (GradientReducer reducer = group.gradientReducer(params, 8, overlap)) {
                for (int step = 1; step <= 2; step++) {
                    try (Scope s = Scope.open()) {
                        for (Tensor p : params) if (p.grad() != null) p.zeroGrad();
                        Tensor x = Tensor.of(new float[] {r + step, 1 - r, 2 * r - step, 0.5f * step}, 2, 2);
                        x.matmul(w).add(b).tanh().mul(x.sum()).sum().backward();
                        for (Tensor p : List.of(w, b)) for (double v : p.grad().toDoubleArray()) out.add(v);
                        reducer.finish();
                        for (Tensor p : List.of(w, b, unused)) for (double v : p.grad().toDoubleArray()) out.add(v);
                    }
                }
                out.add((double) reducer.buckets());
                out.add((double) reducer.startedDuringBackward());
            }
            return out.stream().mapToDouble(Double::doubleValue).toArray();
        });
    }

    @Test
    void theReducerAveragesGradientsWithAndWithoutOverlap() throws Exception {
        for (boolean overlap : new boolean[] {true, false}) {
            List<double[]> ranks = trainTwoSteps(overlap);
            double[] r0 = ranks.get(0), r1 = ranks.get(1);
            assertEquals(r0.length, r1.length);
            int per = 9 + 11;  // per step: 9 local values (w, b), then 11 averaged (w, b, unused)
            for (int step = 0; step < 2; step++) {
                int at = step * per;
                for (int i = 0; i < 9; i++) {
                    double expected = (r0[at + i] + r1[at + i]) / 2;
                    assertEquals(expected, r0[at + 9 + i], 1e-6, "rank 0, step " + (step + 1) + ", value " + i);
                    assertEquals(expected, r1[at + 9 + i], 1e-6, "rank 1, step " + (step + 1) + ", value " + i);
                }
                assertNotEquals(r0[at], r1[at], "the ranks' local gradients differ, so averaging is tested");
                for (int i = 9; i < 11; i++) assertEquals(0, r0[at + 9 + i], 0, "an unused parameter's average is 0");
            }
            assertEquals(3, r0[2 * per], "one bucket per parameter");
            assertEquals(overlap ? 2 : 0, r0[2 * per + 1], overlap
                    ? "backward started the buckets of b and w; the unused parameter's bucket waited for finish"
                    : "no bucket starts before finish without overlap");
        }
    }
}
