package org.panamasd.service;

import java.nio.file.Path;
import java.time.Duration;
import org.panamasd.DType;

/**
 * How the service runs: the model directory and the dtype its models compute in ({@link org.panamasd.nn.Precision}), where it listens, its worker threads, dynamic batching (at most
 * {@code maxBatch} requests per UNet batch, gathered for at most {@code maxWait}), the queue's bound, the
 * deadline of a request that names none, and the limits a request is validated against.
 */
public record ServiceSettings(Path model, DType dtype, String host, int port, int workers, int maxBatch, Duration maxWait, int queueCapacity,
                              Duration defaultDeadline, int maxSteps, int maxSide, int keptResults) {

    public ServiceSettings {
        if (workers < 1) throw new IllegalArgumentException("workers must be at least 1, got " + workers);
        if (maxBatch < 1) throw new IllegalArgumentException("max batch must be at least 1, got " + maxBatch);
        if (queueCapacity < 1) throw new IllegalArgumentException("queue capacity must be at least 1, got " + queueCapacity);
        if (maxWait.isNegative()) throw new IllegalArgumentException("max wait must not be negative, got " + maxWait);
    }

    /**
     * One worker: on a CPU, libtorch's intra-op threads already use every core, so a second worker would only
     * split them, while batching gives the cores bigger matrices. Port 0 takes a free port.
     */
    public static ServiceSettings of(Path model) {
        return new ServiceSettings(model, DType.FLOAT32, "127.0.0.1", 8080, 1, 8, Duration.ofMillis(25), 64, Duration.ofMinutes(2), 200, 1024, 200);
    }

    public ServiceSettings withDtype(DType compute) {
        return new ServiceSettings(model, compute, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, maxSteps, maxSide, keptResults);
    }

    public ServiceSettings withAddress(String host, int port) {
        return new ServiceSettings(model, dtype, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, maxSteps, maxSide, keptResults);
    }

    public ServiceSettings withWorkers(int count) {
        return new ServiceSettings(model, dtype, host, port, count, maxBatch, maxWait, queueCapacity, defaultDeadline, maxSteps, maxSide, keptResults);
    }

    public ServiceSettings withBatching(int batch, Duration wait) {
        return new ServiceSettings(model, dtype, host, port, workers, batch, wait, queueCapacity, defaultDeadline, maxSteps, maxSide, keptResults);
    }

    public ServiceSettings withQueueCapacity(int capacity) {
        return new ServiceSettings(model, dtype, host, port, workers, maxBatch, maxWait, capacity, defaultDeadline, maxSteps, maxSide, keptResults);
    }

    public ServiceSettings withMaxSteps(int steps) {
        return new ServiceSettings(model, dtype, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, steps, maxSide, keptResults);
    }
}
