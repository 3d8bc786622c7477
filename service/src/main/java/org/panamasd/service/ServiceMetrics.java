package org.panamasd.service;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.panamasd.MemoryStats;

/**
 * The service's counters and histograms, and their Prometheus text: requests by outcome, queue depth, batch
 * sizes, step and request latency, and the native memory that {@link MemoryStats} counts.
 */
final class ServiceMetrics {
    /** Outcomes of a submission: refused at the door, or the final state of an accepted job. */
    static final String ACCEPTED = "accepted", INVALID = "invalid", QUEUE_FULL = "queue_full";

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    final Histogram batchSizes = new Histogram("panamasd_batch_size", "Requests per UNet batch.", 1, 2, 4, 8, 16, 32, 64);
    final Histogram stepSeconds = new Histogram("panamasd_step_seconds", "Wall time of one denoising step of a batch.",
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10);
    final Histogram requestSeconds = new Histogram("panamasd_request_seconds", "Submission to image, for requests that finished with one.",
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120);

    void count(String outcome) {
        requests.computeIfAbsent(outcome, o -> new LongAdder()).increment();
    }

    long count(Job.State state) {
        LongAdder a = requests.get(outcome(state));
        return a == null ? 0 : a.sum();
    }

    void finished(Job job) {
        count(outcome(job.state()));
        if (job.state() == Job.State.DONE) requestSeconds.observe(job.seconds());
    }

    static String outcome(Job.State state) {
        return state.name().toLowerCase(java.util.Locale.ROOT);
    }

    String prometheus(int queueDepth, int queueCapacity) {
        StringBuilder out = new StringBuilder();
        out.append("# HELP panamasd_requests_total Generation requests by outcome.\n# TYPE panamasd_requests_total counter\n");
        new java.util.TreeMap<>(requests).forEach((outcome, n) ->
                out.append("panamasd_requests_total{outcome=\"").append(outcome).append("\"} ").append(n.sum()).append('\n'));
        PrometheusText.gauge(out, "panamasd_queue_depth", "Requests waiting for a worker.", queueDepth);
        PrometheusText.gauge(out, "panamasd_queue_capacity", "The queue's bound; beyond it submissions get 429.", queueCapacity);
        batchSizes.write(out);
        stepSeconds.write(out);
        requestSeconds.write(out);
        MemoryStats memory = MemoryStats.now();
        PrometheusText.gauge(out, "panamasd_live_tensors", "Native tensor handles alive now.", memory.liveTensors());
        PrometheusText.gauge(out, "panamasd_native_allocated_bytes", "Bytes libtorch's CPU allocator holds now.", memory.allocatedBytes());
        PrometheusText.gauge(out, "panamasd_native_peak_bytes", "The most bytes libtorch's CPU allocator has held.", memory.peakBytes());
        return out.toString();
    }
}
