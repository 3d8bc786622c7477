package org.panamasd.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.panamasd.service.ServiceServer;
import org.panamasd.service.ServiceSettings;

/**
 * The HTTP image service with its web page, on the shipped default model unless {@code --model} names another:
 * {@code serve [--model DIR] [--host 127.0.0.1] [--port 8080] [--workers 1] [--max-batch 8] [--max-wait-ms 25]
 * [--queue 64] [--max-steps 200]}. Runs until the process is stopped.
 */
final class ServeCommand {
    static final Set<String> OPTIONS = Set.of("model", "host", "port", "workers", "max-batch", "max-wait-ms", "queue", "max-steps");

    static void run(String[] args) throws InterruptedException {
        Options o = Options.parse("serve", args, OPTIONS);
        Path model = o.has("model") ? Path.of(o.string("model", null)) : GenerateCommand.defaultModel();
        ServiceSettings d = ServiceSettings.of(model);
        ServiceSettings settings = d.withAddress(o.string("host", d.host()), o.integer("port", d.port()))
                .withWorkers(o.integer("workers", d.workers()))
                .withBatching(o.integer("max-batch", d.maxBatch()), Duration.ofMillis(o.longValue("max-wait-ms", d.maxWait().toMillis())))
                .withQueueCapacity(o.integer("queue", d.queueCapacity()))
                .withMaxSteps(o.integer("max-steps", d.maxSteps()));
        ServiceServer server = ServiceServer.start(settings);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(server), "panamasd-serve-stop"));
        System.out.printf("serving %s on http://%s:%d/ (workers %d, batches of up to %d gathered for %d ms, queue %d)%n", model,
                settings.host(), server.port(), settings.workers(), settings.maxBatch(), settings.maxWait().toMillis(), settings.queueCapacity());
        new CountDownLatch(1).await();  // until SIGTERM / Ctrl-C: the hook stops the server
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

    private ServeCommand() {}
}
