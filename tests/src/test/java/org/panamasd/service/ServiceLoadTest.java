package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.nn.ConvBackends;
import org.panamasd.support.NativeTest;

/**
 * Concurrent loopback clients against the service: each submits, follows its job's progress stream to the end,
 * fetches the PNG and starts over; a 429 makes it wait the Retry-After. Nothing may fail except by design
 * (429), and after the drain the native memory must be where it was before the load (then, with the service
 * closed, where it was before the service). The default suite runs a short load; {@code -Pload} a long one
 * and the batching comparison, sized by {@code -Dload.clients} and {@code -Dload.seconds}.
 *
 * <p>The loads run with the conv backend forced to {@code prepacked}: the warm-up request then makes every
 * convolution's prepacked weight (model state, in the model's parameter scope), and the load's new batch shapes
 * reuse them. With the per-shape choice, a batch shape first met during the load could make or drop one by design,
 * which the exact count after the drain would report; the prepacked path is exercised under load either way.
 */
class ServiceLoadTest extends NativeTest {
    static final List<String> PROMPTS = List.of("a photo of an ankle boot", "a t-shirt", "trousers", "a pullover", "a dress", "a coat",
            "a sandal", "a shirt", "a sneaker", "a bag");

    /** What a load run measured. */
    record Outcome(int clients, double seconds, int done, long rejected, List<String> failures, double p50, double p99, double meanBatch) {
        double throughput() {
            return done / seconds;
        }

        @Override
        public String toString() {
            return String.format("%d clients, %.0f s: %d images (%.2f/s), %d answered 429, %d failures; latency p50 %.2f s, p99 %.2f s; mean batch %.2f",
                    clients, seconds, done, throughput(), rejected, failures.size(), p50, p99, meanBatch);
        }
    }

    @Test
    void aShortLoadFailsNothingButByDesignAndLeavesNoNativeMemory() throws Exception {
        // a small queue, so that submissions meet back-pressure: the load's first batch is held until one has (12
        // clients, at most 8 of them in the held batch and 3 queued, so a 429 must come), then the load runs on
        Outcome o = load(settings(8).withQueueCapacity(3), 12, Duration.ofSeconds(12), true);
        System.out.println("short load: " + o);
        assertTrue(o.done() > 0, "no image in the run: " + o);
        assertTrue(o.rejected() > 0, "12 clients against a held batch of at most 8 and a queue of 3 meet back-pressure (429): " + o);
    }

    @Test
    @Tag("load")
    void aLongLoad() throws Exception {
        Outcome o = load(settings(8).withQueueCapacity(8), Integer.getInteger("load.clients", 16),
                Duration.ofSeconds(Integer.getInteger("load.seconds", 180)));
        System.out.println("long load: " + o);
        assertTrue(o.done() > 0, "no image in the run: " + o);
        assertTrue(o.p99() <= settings(8).defaultDeadline().toSeconds(), "p99 latency within the default deadline: " + o);
    }

    /** The same closed-loop clients one request at a time and with batches of up to 8 (queue large enough for no 429). */
    @Test
    @Tag("load")
    void batchingAgainstOneAtATime() throws Exception {
        int clients = Integer.getInteger("load.clients", 16);
        Duration time = Duration.ofSeconds(Integer.getInteger("load.seconds", 60));
        Outcome single = load(settings(1).withQueueCapacity(clients), clients, time);
        Outcome batched = load(settings(8).withQueueCapacity(clients), clients, time);
        System.out.println("one at a time: " + single);
        System.out.println("batches of <= 8: " + batched);
        System.out.printf("batching gain: %.2fx the throughput%n", batched.throughput() / single.throughput());
        assertEquals(1.0, single.meanBatch(), 1e-9, "one at a time: " + single);
        assertTrue(batched.meanBatch() > 1, "the batched run batched: " + batched);
        assertTrue(batched.throughput() > single.throughput(), "batching serves more images per second: " + batched + " vs " + single);
    }

    private static ServiceSettings settings(int maxBatch) {
        return ServiceSettings.of(ServiceApiTest.MODEL).withAddress("127.0.0.1", 0).withBatching(maxBatch, Duration.ofMillis(25));
    }

    static Outcome load(ServiceSettings settings, int clients, Duration duration) throws Exception {
        return load(settings, clients, duration, false);
    }

    static Outcome load(ServiceSettings settings, int clients, Duration duration, boolean holdFirstBatchUntilRefused) throws Exception {
        String mode = System.getProperty(ConvBackends.MODE_PROPERTY);
        System.setProperty(ConvBackends.MODE_PROPERTY, "prepacked");
        ConvBackends.reload();
        try {
            return loadAsConfigured(settings, clients, duration, holdFirstBatchUntilRefused);
        } finally {
            if (mode == null) System.clearProperty(ConvBackends.MODE_PROPERTY);
            else System.setProperty(ConvBackends.MODE_PROPERTY, mode);
            ConvBackends.reload();
        }
    }

    private static Outcome loadAsConfigured(ServiceSettings settings, int clients, Duration duration, boolean holdFirstBatchUntilRefused) throws Exception {
        MemoryStats beforeService = MemoryStats.now();
        Outcome outcome;
        try (ServiceServer server = ServiceServer.start(settings)) {
            ServiceClient client = new ServiceClient(server.port());
            assertEquals("done", client.followEvents(client.submit(body()).body().path("id").asText()).path("state").asText(), "warm-up");
            MemoryStats warm = MemoryStats.now();
            AtomicLong rejected = new AtomicLong();
            java.util.concurrent.atomic.AtomicBoolean driving = new java.util.concurrent.atomic.AtomicBoolean(true);
            if (holdFirstBatchUntilRefused) {
                java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
                GenerationWorker.faultBeforeBatch = jobs -> {
                    if (!first.getAndSet(false)) return;
                    long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    while (rejected.get() == 0 && driving.get() && System.nanoTime() < until) LockSupport.parkNanos(10_000_000);
                };
            }
            try {
                outcome = drive(client, clients, duration, rejected);
            } finally {
                driving.set(false);  // a drive that failed early lets a held batch go at once
                GenerationWorker.faultBeforeBatch = null;
            }
            assertEquals(0, client.get("/health").body().path("queue_depth").asInt(), "drained");
            MemoryStats drained = MemoryStats.now();
            assertEquals(warm.liveTensors(), drained.liveTensors(), "live tensors after the drain");
            assertEquals(warm.allocatedBytes(), drained.allocatedBytes(), "allocator bytes after the drain");
            assertEquals(0, server.service().finishedCount(Job.State.FAILED), "failed jobs");
        }
        MemoryStats closed = MemoryStats.now();
        assertEquals(beforeService.liveTensors(), closed.liveTensors(), "live tensors once the service is closed");
        assertEquals(beforeService.allocatedBytes(), closed.allocatedBytes(), "allocator bytes once the service is closed");
        assertEquals(List.of(), outcome.failures(), "requests that failed other than by 429");
        return outcome;
    }

    private static Outcome drive(ServiceClient client, int clients, Duration duration, AtomicLong rejected) throws Exception {
        long end = System.nanoTime() + duration.toNanos();
        ConcurrentLinkedQueue<Double> latencies = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        String before = client.text("/metrics");
        long start = System.nanoTime();
        // the clients only do HTTP, so virtual threads are fine for them; the model runs on the service's workers
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < clients; c++)
                running.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        long t0 = System.nanoTime();
                        ServiceClient.Reply reply = client.submit(body());
                        if (reply.status() == 429) {
                            rejected.incrementAndGet();
                            long wait = Long.parseLong(reply.raw().headers().firstValue("Retry-After").orElse("1"));
                            Thread.sleep(Math.min(wait * 1000, Math.max(0, (end - System.nanoTime()) / 1_000_000)));
                            continue;
                        }
                        if (reply.status() != 202) {
                            failures.add("submit: " + reply.status() + " " + reply.body());
                            continue;
                        }
                        JsonNode last = client.followEvents(reply.body().path("id").asText());
                        if (!last.path("state").asText().equals("done")) {
                            failures.add("job: " + last);
                            continue;
                        }
                        ServiceClient.Reply png = client.get(last.path("image").asText());
                        if (png.status() != 200 || png.raw().body().length < 100) failures.add("image: " + png.status());
                        else latencies.add((System.nanoTime() - t0) / 1e9);
                    }
                    return null;
                }));
            for (Future<?> f : running) f.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        String after = client.text("/metrics");
        double batches = ServiceApiTest.metric(after, "panamasd_batch_size_count") - ServiceApiTest.metric(before, "panamasd_batch_size_count");
        double rows = ServiceApiTest.metric(after, "panamasd_batch_size_sum") - ServiceApiTest.metric(before, "panamasd_batch_size_sum");
        List<Double> sorted = new ArrayList<>(latencies);
        Collections.sort(sorted);
        return new Outcome(clients, seconds, sorted.size(), rejected.get(), List.copyOf(failures), percentile(sorted, 0.5), percentile(sorted, 0.99),
                batches == 0 ? 0 : rows / batches);
    }

    private static double percentile(List<Double> sorted, double p) {
        return sorted.isEmpty() ? Double.NaN : sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
    }

    private static String body() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return "{\"prompt\": \"" + PROMPTS.get(r.nextInt(PROMPTS.size())) + "\", \"seed\": " + r.nextInt(1_000_000) + "}";
    }
}
