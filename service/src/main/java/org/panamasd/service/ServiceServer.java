package org.panamasd.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;
import io.javalin.http.staticfiles.Location;
import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.schedulers.Schedulers;

/**
 * The HTTP face of a {@link GenerationService}: the JSON API, progress streams, metrics, health and the web
 * page, on Javalin (Jetty). Handlers only queue and read jobs; the model runs on the service's worker threads.
 *
 * <pre>
 * POST   /api/jobs                 submit (202 with the job; 400 naming the field; 429 with Retry-After)
 * GET    /api/jobs/{id}            status and progress
 * DELETE /api/jobs/{id}            cancel
 * GET    /api/jobs/{id}/image.png  the image (409 until done)
 * GET    /api/jobs/{id}/events     server-sent progress events; disconnecting cancels the job
 * GET    /api/recent               the latest images (the gallery)
 * GET    /api/info                 the model's defaults and the limits
 * GET    /metrics                  Prometheus text
 * GET    /health                   liveness and queue
 * GET    /                         the web page
 * </pre>
 * Every request passes {@link RequestGuard} first (Host names, foreign origins, JSON submissions).
 */
public final class ServiceServer implements AutoCloseable {
    private static final int GALLERY_SIZE = 24;

    private final GenerationService service;
    private final ObjectMapper json = new ObjectMapper();
    private final ProgressStreams streams;
    private final Javalin app;

    private ServiceServer(GenerationService service) {
        this.service = service;
        this.streams = new ProgressStreams(service, json);
        this.app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.staticFiles.add("/web", Location.CLASSPATH);
        });
        routes();
    }

    /** Loads the model, starts the workers and listens on the settings' host and port (0: a free port). */
    public static ServiceServer start(ServiceSettings settings) {
        GenerationService service = GenerationService.start(settings);
        try {
            ServiceServer server = new ServiceServer(service);
            server.app.start(settings.host(), settings.port());
            return server;
        } catch (RuntimeException e) {
            service.close();
            throw e;
        }
    }

    public int port() {
        return app.port();
    }

    public GenerationService service() {
        return service;
    }

    private void routes() {
        RequestGuard guard = new RequestGuard(service.settings().host(), service.settings().allowedHosts());
        app.before(guard::check);
        app.post("/api/jobs", this::submit);
        app.get("/api/jobs/{id}", ctx -> ctx.json(JobView.of(job(ctx))));
        app.delete("/api/jobs/{id}", ctx -> ctx.json(JobView.of(
                service.cancel(ctx.pathParam("id"), "cancelled by the client").orElseThrow(() -> new NoSuchJob(ctx.pathParam("id"))))));
        app.get("/api/jobs/{id}/image.png", this::image);
        app.sse("/api/jobs/{id}/events", streams::accept);
        app.get("/api/recent", ctx -> ctx.json(service.recentImages(GALLERY_SIZE).stream().map(JobView::of).toList()));
        app.get("/api/info", ctx -> ctx.json(info()));
        app.get("/metrics", ctx -> ctx.contentType(ServiceMetrics.TEXT.getContentType()).result(service.prometheus()));
        app.get("/health", this::health);
        app.exception(BadRequest.class, (e, ctx) -> ctx.status(HttpStatus.BAD_REQUEST).json(Map.of("error", e.getMessage(), "field", e.field())));
        app.exception(QueueFull.class, (e, ctx) -> {
            ctx.header("Retry-After", Long.toString(e.retryAfterSeconds()));
            ctx.status(HttpStatus.TOO_MANY_REQUESTS).json(Map.of("error", e.getMessage()));
        });
        app.exception(NoSuchJob.class, (e, ctx) -> ctx.status(HttpStatus.NOT_FOUND).json(Map.of("error", e.getMessage())));
    }

    private void submit(Context ctx) {
        JsonNode body;
        try {
            body = json.readTree(ctx.body());
        } catch (JsonProcessingException e) {
            throw new BadRequest("body", "is not JSON: " + e.getOriginalMessage());
        }
        Job job = service.submit(service.parse(body));
        ctx.status(HttpStatus.ACCEPTED).header("Location", "/api/jobs/" + job.id()).json(JobView.of(job));
    }

    /** 200 while every worker runs; 503 ("degraded") when fewer do, so a supervisor can restart the process. */
    private void health(Context ctx) {
        int live = service.liveWorkers(), configured = service.settings().workers();
        Map<String, Object> health = new LinkedHashMap<>();
        health.put("status", live == configured ? "ok" : "degraded");
        health.put("workers", configured);
        health.put("workers_live", live);
        health.put("worker_restarts", service.workerRestarts());
        health.put("queue_depth", service.queueDepth());
        health.put("queue_capacity", service.settings().queueCapacity());
        ctx.status(live == configured ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json(health);
    }

    private void image(Context ctx) {
        Job job = job(ctx);
        byte[] png = job.png();
        if (job.state() != Job.State.DONE || png == null) {
            ctx.status(HttpStatus.CONFLICT).json(Map.of("error", "job " + job.id() + " is " + JobView.of(job).get("state") + ", it has no image"));
            return;
        }
        ctx.contentType("image/png").result(png);
    }

    private Job job(Context ctx) {
        String id = ctx.pathParam("id");
        return service.job(id).orElseThrow(() -> new NoSuchJob(id));
    }

    private Map<String, Object> info() {
        var d = service.defaults();
        var s = service.settings();
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("model", s.model().path().getFileName().toString());
        info.put("steps", d.steps());
        info.put("guidance", d.guidance());
        info.put("width", d.width());
        info.put("height", d.height());
        info.put("max_steps", s.maxSteps());
        info.put("max_side", s.maxSide());
        info.put("max_pixel_steps", s.limits().maxPixelSteps());
        info.put("max_output_pixels", s.limits().maxOutputPixels());
        info.put("upscale", Math.max(1, d.upscale()));
        info.put("max_batch", s.maxBatch());
        info.put("schedulers", Schedulers.NAMES);
        return info;
    }

    /** A job id the service does not know (HTTP 404). */
    private static final class NoSuchJob extends RuntimeException {
        NoSuchJob(String id) {
            super("no job " + id + " (unknown, or its result was dropped to keep the newest)");
        }
    }

    @Override
    public void close() {
        app.stop();
        service.close();  // its last job changes still reach the streams
        streams.close();
    }
}
