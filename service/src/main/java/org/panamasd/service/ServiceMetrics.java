package org.panamasd.service;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.function.DoubleSupplier;
import org.panamasd.MemoryStats;

/**
 * The service's counters and histograms on the Prometheus Java client (one registry per service): requests by
 * outcome, queue depth, batch sizes, step and request latency, workers, and the native memory that
 * {@link MemoryStats} counts; written in Prometheus' text format.
 */
final class ServiceMetrics {
    /** Outcomes of a submission: refused at the door, or the final state of an accepted job. */
    static final String ACCEPTED = "accepted", INVALID = "invalid", QUEUE_FULL = "queue_full";
    static final PrometheusTextFormatWriter TEXT = PrometheusTextFormatWriter.create();

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter requests = Counter.builder().name("panamasd_requests_total").help("Generation requests by outcome.")
            .labelNames("outcome").register(registry);
    final Histogram batchSizes = Histogram.builder().name("panamasd_batch_size").help("Requests per UNet batch.")
            .classicOnly().classicUpperBounds(1, 2, 4, 8, 16, 32, 64).register(registry);
    final Histogram stepSeconds = Histogram.builder().name("panamasd_step_seconds").help("Wall time of one denoising step of a batch.")
            .classicOnly().classicUpperBounds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10).register(registry);
    final Histogram requestSeconds = Histogram.builder().name("panamasd_request_seconds").help("Submission to image, for requests that finished with one.")
            .classicOnly().classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120).register(registry);

    /** The gauges read their values when scraped: the queue's and the workers' from the service. */
    ServiceMetrics(DoubleSupplier queueDepth, DoubleSupplier queueCapacity, DoubleSupplier liveWorkers) {
        gauge("panamasd_queue_depth", "Requests waiting for a worker.", queueDepth);
        gauge("panamasd_queue_capacity", "The queue's bound; beyond it submissions get 429.", queueCapacity);
        gauge("panamasd_workers_live", "Worker threads running the model.", liveWorkers);
        gauge("panamasd_live_tensors", "Native tensor handles alive now.", MemoryStats::liveTensorCount);
        gauge("panamasd_native_allocated_bytes", "Bytes libtorch's CPU allocator holds now.", () -> MemoryStats.now().allocatedBytes());
        gauge("panamasd_native_peak_bytes", "The most bytes libtorch's CPU allocator has held.", () -> MemoryStats.now().peakBytes());
    }

    private void gauge(String name, String help, DoubleSupplier value) {
        GaugeWithCallback.builder().name(name).help(help).callback(callback -> callback.call(value.getAsDouble())).register(registry);
    }

    void count(String outcome) {
        requests.labelValues(outcome).inc();
    }

    long count(Job.State state) {
        return (long) requests.labelValues(outcome(state)).get();
    }

    void finished(Job job) {
        count(outcome(job.state()));
        if (job.state() == Job.State.DONE) requestSeconds.observe(job.seconds());
    }

    static String outcome(Job.State state) {
        return state.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The mean of a histogram's observations, and how many there were. */
    record Mean(long count, double mean) {}

    static Mean mean(Histogram histogram) {
        HistogramSnapshot.HistogramDataPointSnapshot point = histogram.collect().getDataPoints().getFirst();
        return new Mean(point.getCount(), point.getCount() == 0 ? 0 : point.getSum() / point.getCount());
    }

    String prometheus() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            TEXT.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
