package org.panamasd.service;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.panamasd.DType;
import org.panamasd.nn.WeightFormat;

/**
 * How the service runs: the model directory, the dtype its models compute in ({@link org.panamasd.nn.Precision}) and how
 * they keep their linear and convolution weights ({@link WeightFormat}: int8 takes no LoRA adapters), where it listens, its worker threads, dynamic batching (at most
 * {@code maxBatch} requests per UNet batch, gathered for at most {@code maxWait}), the queue's bound, the
 * deadline of a request that names none, the limits a request is validated against ({@link CostLimits}), how
 * many finished results are kept, and the {@code Host} names it answers besides its own ({@link HostCheck}).
 */
public record ServiceSettings(org.panamasd.pipelines.ModelSource model, DType dtype, WeightFormat weights, String host, int port, int workers, int maxBatch, Duration maxWait, int queueCapacity,
                              Duration defaultDeadline, CostLimits limits, int keptResults, List<String> allowedHosts, Path loraDirectory, Path controlnet) {

    /**
     * What one request may cost: the most steps, the longest side, pixels × steps (doubled with classifier-free
     * guidance, which runs the UNet twice), and the pixels of the image sent back after the model's upscale.
     */
    public record CostLimits(int maxSteps, int maxSide, long maxPixelSteps, long maxOutputPixels) {
        public CostLimits {
            if (maxSteps < 1) throw new IllegalArgumentException("max steps must be at least 1, got " + maxSteps);
            if (maxSide < 8) throw new IllegalArgumentException("max side must be at least 8, got " + maxSide);
            if (maxPixelSteps < 64) throw new IllegalArgumentException("max pixel-steps must be at least 64, got " + maxPixelSteps);
            if (maxOutputPixels < 64) throw new IllegalArgumentException("max output pixels must be at least 64, got " + maxOutputPixels);
        }

        /**
         * Defaults that keep one request within seconds on the shipped 32-px model (measured at 1 step, 1 thread:
         * 64² 0.8 s, 128² 2.6 s): 128² × 4 steps, or 32² × 64 steps; at most 2048² sent back.
         */
        public static CostLimits defaults() {
            return new CostLimits(200, 512, 128L * 128 * 4, 2048L * 2048);
        }
    }

    public ServiceSettings {
        if (workers < 1) throw new IllegalArgumentException("workers must be at least 1, got " + workers);
        if (maxBatch < 1) throw new IllegalArgumentException("max batch must be at least 1, got " + maxBatch);
        if (queueCapacity < 1) throw new IllegalArgumentException("queue capacity must be at least 1, got " + queueCapacity);
        if (maxWait.isNegative()) throw new IllegalArgumentException("max wait must not be negative, got " + maxWait);
        allowedHosts = List.copyOf(allowedHosts);
        if (weights == WeightFormat.INT8 && loraDirectory != null)
            throw new IllegalArgumentException("LoRA adapters fuse into floating-point weights: a LoRA directory needs dense weights, not int8");
    }

    /**
     * One worker: on a CPU, libtorch's intra-op threads already use every core, so a second worker would only
     * split them, while batching gives the cores bigger matrices. Port 0 takes a free port.
     */
    public static ServiceSettings of(Path model) {
        return of(org.panamasd.pipelines.ModelSource.directory(model));
    }

    /** The defaults for a model directory or a single file ({@link org.panamasd.pipelines.ModelSource}). */
    public static ServiceSettings of(org.panamasd.pipelines.ModelSource model) {
        return new ServiceSettings(model, DType.FLOAT32, WeightFormat.DENSE, "127.0.0.1", 8080, 1, 8, Duration.ofMillis(25), 64, Duration.ofMinutes(2),
                CostLimits.defaults(), 200, List.of(), null, null);
    }

    public int maxSteps() {
        return limits.maxSteps();
    }

    public int maxSide() {
        return limits.maxSide();
    }

    public ServiceSettings withDtype(DType compute) {
        return new ServiceSettings(model, compute, weights, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, limits, keptResults, allowedHosts, loraDirectory, controlnet);
    }

    public ServiceSettings withWeights(WeightFormat format) {
        return new ServiceSettings(model, dtype, format, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, limits, keptResults, allowedHosts, loraDirectory, controlnet);
    }

    public ServiceSettings withAddress(String host, int port) {
        return new ServiceSettings(model, dtype, weights, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, limits, keptResults, allowedHosts, loraDirectory, controlnet);
    }

    public ServiceSettings withWorkers(int count) {
        return new ServiceSettings(model, dtype, weights, host, port, count, maxBatch, maxWait, queueCapacity, defaultDeadline, limits, keptResults, allowedHosts, loraDirectory, controlnet);
    }

    public ServiceSettings withBatching(int batch, Duration wait) {
        return new ServiceSettings(model, dtype, weights, host, port, workers, batch, wait, queueCapacity, defaultDeadline, limits, keptResults, allowedHosts, loraDirectory, controlnet);
    }

    public ServiceSettings withQueueCapacity(int capacity) {
        return new ServiceSettings(model, dtype, weights, host, port, workers, maxBatch, maxWait, capacity, defaultDeadline, limits, keptResults, allowedHosts, loraDirectory, controlnet);
    }

    public ServiceSettings withLimits(CostLimits costLimits) {
        return new ServiceSettings(model, dtype, weights, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, costLimits, keptResults, allowedHosts, loraDirectory, controlnet);
    }


    public ServiceSettings withAllowedHosts(List<String> names) {
        return new ServiceSettings(model, dtype, weights, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, limits, keptResults, names, loraDirectory, controlnet);
    }

    /**
     * The directory of the LoRA adapters requests may name ({@code *.safetensors}, named by file stem); null: none.
     * A request names an adapter, never a path.
     */
    public ServiceSettings withLoraDirectory(Path directory) {
        return new ServiceSettings(model, dtype, weights, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, limits, keptResults, allowedHosts,
                directory, controlnet);
    }

    /** A diffusers ControlNet directory requests may be guided by ("control_image"); null: none. */
    public ServiceSettings withControlNet(Path directory) {
        return new ServiceSettings(model, dtype, weights, host, port, workers, maxBatch, maxWait, queueCapacity, defaultDeadline, limits, keptResults, allowedHosts,
                loraDirectory, directory);
    }
}
