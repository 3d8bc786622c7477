package org.panamasd.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.panamasd.service.ServiceServer;
import org.panamasd.service.ServiceSettings;
import org.panamasd.nn.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The HTTP image service ({@code org.panamasd.service}) with its web page, until the process is stopped. */
@Command(name = "serve", sortOptions = false, description = {
        "The HTTP image service and its web page: a JSON API, progress events, dynamic batching, metrics.",
        "It serves SD 1.x / 2.x models (a directory or one checkpoint file; SDXL only through generate).",
        "Without --model: models/fashion-turbo. Runs until stopped (Ctrl-C, SIGTERM)."})
final class ServeCommand implements Callable<Integer> {
    private static final ServiceSettings DEFAULTS = ServiceSettings.of(Path.of("."));

    @Mixin
    ModelOptions model;
    @Option(names = "--lora-dir", paramLabel = "DIR", description = {"LoRA adapters requests may name in their \"loras\" field ({\"name\": scale}):",
            "every DIR/name.safetensors, checked against the model at the start; requests never name paths."})
    Path loraDir;
    @Option(names = "--controlnet", paramLabel = "DIR", description = "A diffusers ControlNet requests may be guided by (\"control_image\", \"control_scale\").")
    Path controlnet;
    @Mixin
    PrecisionOption precision;
    @Mixin
    WeightsOption weights;
    @Option(names = "--host", paramLabel = "HOST", description = "The address to listen on (default: 127.0.0.1).")
    String host = DEFAULTS.host();
    @Option(names = "--port", paramLabel = "N", description = "The port; 0 takes a free one (default: 8080).")
    int port = DEFAULTS.port();
    @Option(names = "--workers", paramLabel = "N", description = "Threads running the model, sharing its weights (default: 1).")
    int workers = DEFAULTS.workers();
    @Option(names = "--max-batch", paramLabel = "N", description = "The most requests in one UNet batch (default: 8).")
    int maxBatch = DEFAULTS.maxBatch();
    @Option(names = "--max-wait-ms", paramLabel = "MS", description = "How long a batch waits for company (default: 25).")
    long maxWaitMillis = DEFAULTS.maxWait().toMillis();
    @Option(names = "--queue", paramLabel = "N", description = "Requests that may wait; beyond them 429 (default: 64).")
    int queue = DEFAULTS.queueCapacity();
    @Option(names = "--max-steps", paramLabel = "N", description = "The most steps a request may ask for (default: 200).")
    int maxSteps = DEFAULTS.maxSteps();
    @Option(names = "--max-side", paramLabel = "PX", description = "The longest width or height a request may ask for (default: 512).")
    int maxSide = DEFAULTS.maxSide();
    @Option(names = "--max-pixels-steps", paramLabel = "N", description = {"The most width × height × steps of one request, doubled with guidance > 1",
            "(default: 65536: 128² × 4 steps, or 32² × 64; seconds on the shipped model)."})
    long maxPixelSteps = DEFAULTS.limits().maxPixelSteps();
    @Option(names = "--max-output-pixels", paramLabel = "N", description = "The most pixels of one image sent back, after the model's upscale (default: 2048²).")
    long maxOutputPixels = DEFAULTS.limits().maxOutputPixels();
    @Option(names = "--allow-host", paramLabel = "NAME", split = ",", description = {"Host names the service also answers as (behind a proxy, or a DNS name of",
            "this machine); IP addresses and localhost are always answered. '*' answers any (no DNS-rebinding guard)."})
    java.util.List<String> allowedHosts = new java.util.ArrayList<>();

    @Override
    public Integer call() throws InterruptedException {
        ServiceSettings settings = ServiceSettings.of(model.source()).withDtype(precision.resolve(Precision.AUTO)).withWeights(weights.format()).withAddress(host, port).withWorkers(workers)
                .withBatching(maxBatch, Duration.ofMillis(maxWaitMillis)).withQueueCapacity(queue)
                .withLimits(new ServiceSettings.CostLimits(maxSteps, maxSide, maxPixelSteps, maxOutputPixels)).withAllowedHosts(allowedHosts).withLoraDirectory(loraDir).withControlNet(controlnet);
        ServiceServer server = ServiceServer.start(settings);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(server), "panamasd-serve-stop"));
        System.out.printf("serving %s (%s) on http://%s:%d/ (workers %d, batches of up to %d gathered for %d ms, queue %d)%n", model.path(),
                settings.dtype().name().toLowerCase(), settings.host(), server.port(), settings.workers(), settings.maxBatch(), settings.maxWait().toMillis(), settings.queueCapacity());
        new CountDownLatch(1).await();  // until SIGTERM / Ctrl-C: the hook stops the server
        return 0;
    }

    /**
     * Stops listening, cancels what waits and frees the model. The bridge's own exit hook may already refuse
     * native calls ("shutting down"): then the freeing fails, harmlessly, as the process ends anyway.
     */
    private static void stop(ServiceServer server) {
        try {
            server.close();
        } catch (RuntimeException e) {
            System.err.println("panama-sd: serve stopped (" + e.getMessage() + ")");
        }
    }
}
