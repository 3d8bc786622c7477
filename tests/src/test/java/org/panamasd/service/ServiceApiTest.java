package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.support.NativeTest;

/**
 * The HTTP service on the shipped Turbo student, through its JSON API on loopback: validation, a job's life,
 * dynamic batching, back-pressure, deadlines, progress streams and cancellation when the client goes away.
 * A job of {@link #LONG_STEPS} steps keeps the one worker busy where a test needs others to wait.
 */
class ServiceApiTest extends NativeTest {
    static final Path MODEL = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-turbo");
    static final int LONG_STEPS = 500, QUEUE = 4;
    static final Duration WAIT = Duration.ofSeconds(120);
    /** The default limits, but room for jobs of {@link #LONG_STEPS} steps at the model's 32 px. */
    static final ServiceSettings.CostLimits LONG_JOBS = new ServiceSettings.CostLimits(LONG_STEPS, 512, 32L * 32 * LONG_STEPS,
            ServiceSettings.CostLimits.defaults().maxOutputPixels());

    private static ServiceServer server;
    private static ServiceClient client;
    private final List<String> toCancel = new ArrayList<>();

    @BeforeAll
    static void start() {
        server = ServiceServer.start(ServiceSettings.of(MODEL).withAddress("127.0.0.1", 0).withBatching(4, Duration.ofMillis(200))
                .withQueueCapacity(QUEUE).withLimits(LONG_JOBS));
        client = new ServiceClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @AfterEach
    void cancelLeftovers() throws InterruptedException {
        for (String id : toCancel) client.delete("/api/jobs/" + id);
        for (String id : toCancel) client.awaitFinished(id, WAIT);
    }

    @Test
    void badRequestsGet400NamingTheField() {
        Map<String, String> cases = Map.of(
                "{\"prompt\": \"a bag\", \"steps\": 0}", "steps",
                "{\"prompt\": \"a bag\", \"steps\": 100000}", "steps",
                "{\"prompt\": \"a bag\", \"width\": 30}", "width",
                "{\"prompt\": \"a bag\", \"height\": 4096}", "height",
                "{\"prompt\": \"" + "bag ".repeat(100) + "\"}", "prompt",
                "{\"steps\": 2}", "prompt",
                "{\"prompt\": \"a bag\", \"guidance\": \"high\"}", "guidance",
                "{\"prompt\": \"a bag\", \"scheduler\": \"Magic\"}", "scheduler",
                "{\"prompt\": \"a bag\", \"stepz\": 3}", "stepz",
                "not json", "body");
        cases.forEach((body, field) -> {
            ServiceClient.Reply reply = client.submit(body);
            assertEquals(400, reply.status(), body);
            assertEquals(field, reply.body().path("field").asText(), body);
            assertTrue(reply.body().path("error").asText().startsWith(field + ": "), reply.body().toString());
        });
        assertTrue(client.submit("{\"prompt\": \"a bag\", \"width\": 30}").body().path("error").asText().contains("multiple of 8"));
        assertTrue(client.submit("{\"prompt\": \"" + "bag ".repeat(100) + "\"}").body().path("error").asText().contains("too long"));
    }

    @Test
    void aRequestCostingMoreThanTheLimitsGets400NamingTheCost() {
        // each field within its own range, their product not: 512² × 4 steps is 1,048,576 pixel-steps > 32² × 500
        ServiceClient.Reply big = client.submit("{\"prompt\": \"a bag\", \"width\": 512, \"height\": 512, \"steps\": 4}");
        assertEquals(400, big.status(), big.body().toString());
        assertEquals("cost", big.body().path("field").asText());
        assertTrue(big.body().path("error").asText().contains("pixel-steps"), big.body().toString());
        // 264 × 256 at 1 step is cheap to compute, but upscaled 8× it is 4.3 M pixels sent back (> 2048²)
        ServiceClient.Reply wide = client.submit("{\"prompt\": \"a bag\", \"width\": 264, \"height\": 256, \"steps\": 1}");
        assertEquals(400, wide.status(), wide.body().toString());
        assertTrue(wide.body().path("error").asText().contains("output pixels"), wide.body().toString());
        JsonNode info = client.get("/api/info").body();
        assertEquals(32L * 32 * LONG_STEPS, info.path("max_pixel_steps").asLong());
    }

    @Test
    void foreignHostsOriginsAndNonJsonSubmissionsAreRefused() throws Exception {
        int port = server.port();
        String job = "{\"prompt\": \"a bag\", \"steps\": 1}";
        // DNS rebinding: a page of evil.example resolved to 127.0.0.1 reads the gallery as its own origin
        assertEquals(403, raw("GET /api/recent", "evil.example:" + port, null, null, null));
        assertEquals(200, raw("GET /api/recent", "127.0.0.1:" + port, null, null, null));
        assertEquals(200, raw("GET /api/recent", "localhost:" + port, null, null, null));
        // cross-site submissions: a form or fetch of another site POSTs text/plain without a preflight
        assertEquals(415, raw("POST /api/jobs", "127.0.0.1:" + port, null, "text/plain", job));
        assertEquals(403, raw("POST /api/jobs", "127.0.0.1:" + port, "http://evil.example", "application/json", job));
        assertEquals(403, raw("DELETE /api/jobs/x", "127.0.0.1:" + port, "null", null, null));
        assertEquals(202, raw("POST /api/jobs", "127.0.0.1:" + port, "http://127.0.0.1:" + port, "application/json; charset=utf-8", job),
                "the service's own page submits");
    }

    /** Sends one HTTP/1.1 request as written (HttpClient will not forge Host) and returns the status. */
    private static int raw(String requestLine, String host, String origin, String contentType, String body) throws Exception {
        byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder(requestLine + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n");
        if (origin != null) head.append("Origin: ").append(origin).append("\r\n");
        if (contentType != null) head.append("Content-Type: ").append(contentType).append("\r\n");
        head.append("Content-Length: ").append(content.length).append("\r\n\r\n");
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(30_000);
            socket.getOutputStream().write(head.toString().getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().write(content);
            String status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            return Integer.parseInt(status.split(" ")[1]);
        }
    }

    @Test
    void aWorkerThatMeetsAnErrorFailsItsBatchAndIsReplaced() throws Exception {
        GenerationWorker.faultBeforeBatch = jobs -> {
            if (jobs.stream().anyMatch(j -> j.parameters().prompt().equals("a failing bag"))) throw new StackOverflowError("injected");
        };
        try {
            String failing = client.submit("{\"prompt\": \"a failing bag\", \"steps\": 1}").body().path("id").asText();
            JsonNode failed = client.awaitFinished(failing, WAIT);
            assertEquals("failed", failed.path("state").asText(), failed.toString());
            assertTrue(failed.path("error").asText().contains("StackOverflowError"), failed.toString());
            String next = client.submit("{\"prompt\": \"a bag\", \"steps\": 1}").body().path("id").asText();
            assertEquals("done", client.awaitFinished(next, WAIT).path("state").asText(), "a fresh worker serves the next job");
            JsonNode health = client.get("/health").body();
            assertEquals("ok", health.path("status").asText(), health.toString());
            assertEquals(1, health.path("workers_live").asInt(), health.toString());
            assertTrue(health.path("worker_restarts").asLong() >= 1, health.toString());
        } finally {
            GenerationWorker.faultBeforeBatch = null;
        }
    }

    @Test
    void aJobEndsInAPngThatTheGalleryAndTheMetricsShow() throws Exception {
        ServiceClient.Reply reply = client.submit("{\"prompt\": \"a photo of an ankle boot\", \"seed\": 1}");
        assertEquals(202, reply.status());
        String id = reply.body().path("id").asText();
        JsonNode done = client.awaitFinished(id, WAIT);
        assertEquals("done", done.path("state").asText(), done.toString());
        assertEquals(1, done.path("step").asInt());
        BufferedImage image = png(id);
        assertEquals(256, image.getWidth(), "32 px enlarged 8x, as the model directory asks");
        JsonNode recent = client.get("/api/recent").body();
        assertTrue(recent.findValuesAsText("id").contains(id), recent.toString());
        String metrics = client.text("/metrics");
        for (String name : List.of("panamasd_requests_total{outcome=\"done\"}", "panamasd_queue_depth", "panamasd_batch_size_bucket",
                "panamasd_step_seconds_count", "panamasd_live_tensors", "panamasd_native_allocated_bytes"))
            assertTrue(metrics.contains(name), name + " missing from\n" + metrics);
        assertEquals("ok", client.get("/health").body().path("status").asText());
        assertEquals(409, client.get("/api/jobs/" + occupyWorker() + "/image.png").status(), "no image before done");
        assertEquals(404, client.get("/api/jobs/no-such-job").status());
    }

    /** Queued behind a busy worker, three compatible jobs leave the queue as one batch, each with its own image. */
    @Test
    void jobsThatWaitTogetherRunAsOneBatchAndEachImageEqualsItsRunAlone() throws Exception {
        String busy = occupyWorker();
        List<String> prompts = List.of("a sneaker", "a pullover", "a bag");
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) bodies.add("{\"prompt\": \"" + prompts.get(i) + "\", \"seed\": " + (40 + i) + "}");
        List<String> ids = new ArrayList<>();
        for (String body : bodies) ids.add(client.submit(body).body().path("id").asText());
        double[] before = batchHistogram();
        client.delete("/api/jobs/" + busy);
        List<BufferedImage> batched = new ArrayList<>();
        for (String id : ids) {
            assertEquals("done", client.awaitFinished(id, WAIT).path("state").asText());
            batched.add(png(id));
        }
        double[] after = batchHistogram();
        assertEquals(1, after[0] - before[0], "one batch");
        assertEquals(prompts.size(), after[1] - before[1], "of all three jobs");
        for (int i = 0; i < bodies.size(); i++) {
            String alone = client.submit(bodies.get(i)).body().path("id").asText();
            assertEquals("done", client.awaitFinished(alone, WAIT).path("state").asText());
            // the images agree within 1e-4 in [0, 1] (BatchedRowsTest); 8-bit rounding can turn that into one level
            assertTrue(maxDifference(png(alone), batched.get(i)) <= 1, "batched image " + i + " differs from its run alone");
        }
        assertTrue(maxDifference(batched.get(0), batched.get(1)) > 1, "different prompts and seeds, different images");
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        occupyWorker();
        for (int i = 0; i < QUEUE; i++) {
            ServiceClient.Reply queued = client.submit("{\"prompt\": \"a coat\", \"steps\": 2}");
            assertEquals(202, queued.status());
            toCancel.add(queued.body().path("id").asText());
        }
        ServiceClient.Reply refused = client.submit("{\"prompt\": \"a coat\", \"steps\": 2}");
        assertEquals(429, refused.status());
        long retryAfter = Long.parseLong(refused.raw().headers().firstValue("Retry-After").orElseThrow());
        assertTrue(retryAfter >= 1 && retryAfter <= 60, "Retry-After " + retryAfter);
        assertEquals(QUEUE, client.get("/health").body().path("queue_depth").asInt());
        assertTrue(client.text("/metrics").contains("panamasd_requests_total{outcome=\"queue_full\"}"));
    }

    @Test
    void aJobPastItsDeadlineExpires() throws Exception {
        occupyWorker();
        String id = client.submit("{\"prompt\": \"a shirt\", \"deadline_seconds\": 1}").body().path("id").asText();
        JsonNode expired = client.awaitState(id, "expired", Duration.ofSeconds(30));
        assertTrue(expired.path("error").asText().contains("deadline"), expired.toString());
        assertEquals(0, client.get("/health").body().path("queue_depth").asInt(), "the expired job left the queue");
    }

    @Test
    void aCancelledRunningJobStopsAndFreesTheWorker() throws Exception {
        String busy = occupyWorker();
        JsonNode cancelled = client.delete("/api/jobs/" + busy).body();
        assertEquals("cancelled", cancelled.path("state").asText());
        String next = client.submit("{\"prompt\": \"a bag\"}").body().path("id").asText();
        assertEquals("done", client.awaitFinished(next, WAIT).path("state").asText(), "the worker left the cancelled batch");
    }

    @Test
    void progressEventsCountTheStepsWithAPreviewAndEndWithTheImage() throws Exception {
        // the batch waits until the stream has sent its first event, so the reader is there before the first step;
        // 30 steps, so that one slower than the steps still sees some
        java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
        GenerationWorker.faultBeforeBatch = jobs -> {
            try {
                reading.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        List<JsonNode> events = new ArrayList<>();
        try {
            String id = client.submit("{\"prompt\": \"a dress\", \"steps\": 30, \"seed\": 2}").body().path("id").asText();
            try (Socket socket = eventStream(id); BufferedReader in = reader(socket)) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith("data: ")) continue;
                    JsonNode event = ServiceClient.JSON.readTree(line.substring(6));
                    events.add(event);
                    reading.countDown();
                    if (!ServiceClient.UNFINISHED.contains(event.path("state").asText())) break;
                }
            }
        } finally {
            reading.countDown();
            GenerationWorker.faultBeforeBatch = null;
        }
        JsonNode last = events.getLast();
        assertEquals("done", last.path("state").asText(), events.toString());
        assertTrue(last.path("image").asText().endsWith("/image.png"));
        List<Integer> steps = events.stream().filter(e -> e.path("state").asText().equals("running")).map(e -> e.path("step").asInt()).toList();
        // a reader slower than the steps gets the latest state, so not every step need appear, but some must
        assertTrue(steps.stream().anyMatch(step -> step >= 1 && step < 30), "steps seen: " + steps);
        for (int i = 1; i < steps.size(); i++) assertTrue(steps.get(i) >= steps.get(i - 1), "steps go forward: " + steps);
        assertEquals(30, last.path("step").asInt());
        assertTrue(events.stream().anyMatch(e -> e.path("preview").asText().startsWith("data:image/png;base64,")), "a latent preview");
    }

    @Test
    void closingTheProgressStreamCancelsTheJob() throws Exception {
        occupyWorker();
        String id = client.submit("{\"prompt\": \"a sandal\"}").body().path("id").asText();
        toCancel.add(id);
        try (Socket socket = eventStream(id); BufferedReader in = reader(socket)) {
            String line;
            do line = in.readLine(); while (line != null && !line.startsWith("data: "));
            assertNotNull(line, "the stream sends the job's state first");
        }  // the client goes away while its job waits
        JsonNode cancelled = client.awaitState(id, "cancelled", Duration.ofSeconds(30));
        assertEquals("the client disconnected", cancelled.path("error").asText());
    }

    /** Two workers share the one model; running the same seed at the same time, each gives the one-worker image. */
    @Test
    void twoWorkersRunningTheSameSeedTogetherGiveTheImageOneWorkerGives() throws Exception {
        String body = "{\"prompt\": \"a pullover\", \"steps\": 8, \"seed\": 21}";
        String single = client.submit(body).body().path("id").asText();
        assertEquals("done", client.awaitFinished(single, WAIT).path("state").asText());
        byte[] expected = client.get("/api/jobs/" + single + "/image.png").raw().body();
        try (ServiceServer two = ServiceServer.start(ServiceSettings.of(MODEL).withAddress("127.0.0.1", 0).withWorkers(2)
                .withBatching(1, Duration.ZERO))) {
            ServiceClient twoClient = new ServiceClient(two.port());
            // each worker waits at the start of its batch until both are there, then both go on at once: the two
            // jobs run together however fast the steps are
            java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(2), release = new java.util.concurrent.CountDownLatch(1);
            GenerationWorker.faultBeforeBatch = jobs -> {
                inside.countDown();
                try {
                    release.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            List<String> ids;
            try {
                ids = List.of(twoClient.submit(body).body().path("id").asText(), twoClient.submit(body).body().path("id").asText());
                assertTrue(inside.await(30, java.util.concurrent.TimeUnit.SECONDS), "both workers inside a batch at once");
                for (String id : ids) assertEquals("running", twoClient.get("/api/jobs/" + id).body().path("state").asText(), "one job on each worker");
            } finally {
                release.countDown();
                GenerationWorker.faultBeforeBatch = null;
            }
            for (String id : ids) {
                assertEquals("done", twoClient.awaitFinished(id, WAIT).path("state").asText());
                assertArrayEquals(expected, twoClient.get("/api/jobs/" + id + "/image.png").raw().body(), "the PNG differs from one worker's");
            }
        }
    }

    /** A service whose models compute in bfloat16 draws the float32 service's image within bfloat16's PSNR bound. */
    @Test
    void aBfloat16ServiceDrawsTheFloat32Image() throws Exception {
        String body = "{\"prompt\": \"a sneaker\", \"steps\": 1, \"seed\": 5}";
        String id = client.submit(body).body().path("id").asText();
        assertEquals("done", client.awaitFinished(id, WAIT).path("state").asText());
        BufferedImage float32 = ImageIO.read(new ByteArrayInputStream(client.get("/api/jobs/" + id + "/image.png").raw().body()));
        try (ServiceServer bf16 = ServiceServer.start(ServiceSettings.of(MODEL).withDtype(DType.BFLOAT16).withAddress("127.0.0.1", 0))) {
            assertEquals(DType.BFLOAT16, bf16.service().dtype());
            ServiceClient bf16Client = new ServiceClient(bf16.port());
            String other = bf16Client.submit(body).body().path("id").asText();
            assertEquals("done", bf16Client.awaitFinished(other, WAIT).path("state").asText());
            BufferedImage bfloat16 = ImageIO.read(new ByteArrayInputStream(bf16Client.get("/api/jobs/" + other + "/image.png").raw().body()));
            assertEquals(float32.getWidth(), bfloat16.getWidth());
            double squares = 0;
            int n = 0;
            for (int y = 0; y < float32.getHeight(); y++)
                for (int x = 0; x < float32.getWidth(); x++)
                    for (int shift = 0; shift <= 16; shift += 8, n++) {
                        double d = (((float32.getRGB(x, y) >> shift) & 255) - ((bfloat16.getRGB(x, y) >> shift) & 255)) / 255.0;
                        squares += d * d;
                    }
            double psnr = 10 * Math.log10(n / squares);
            assertTrue(psnr >= org.panamasd.golden.Bfloat16Tolerance.MIN_PSNR_DB, "PSNR " + psnr + " dB");
        }
    }

    /** Starts a job of {@link #LONG_STEPS} steps, waits until it runs, and leaves it to the test's end to cancel. */
    private String occupyWorker() throws InterruptedException {
        String id = client.submit("{\"prompt\": \"a trouser\", \"steps\": " + LONG_STEPS + "}").body().path("id").asText();
        toCancel.add(id);
        client.awaitState(id, "running", WAIT);
        return id;
    }

    private static Socket eventStream(String id) throws java.io.IOException {
        Socket socket = new Socket("127.0.0.1", server.port());
        socket.setSoTimeout(60_000);
        socket.getOutputStream().write(("GET /api/jobs/" + id + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        return socket;
    }

    private static BufferedReader reader(Socket socket) throws java.io.IOException {
        return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    }

    private static BufferedImage png(String id) throws java.io.IOException {
        ServiceClient.Reply reply = client.get("/api/jobs/" + id + "/image.png");
        assertEquals(200, reply.status());
        assertEquals("image/png", reply.raw().headers().firstValue("Content-Type").orElse(""));
        return ImageIO.read(new ByteArrayInputStream(reply.raw().body()));
    }

    /** The largest difference of one colour channel of one pixel, in 8-bit levels. */
    private static int maxDifference(BufferedImage a, BufferedImage b) {
        assertEquals(a.getWidth(), b.getWidth());
        int most = 0;
        for (int y = 0; y < a.getHeight(); y++)
            for (int x = 0; x < a.getWidth(); x++)
                for (int shift = 0; shift <= 16; shift += 8)
                    most = Math.max(most, Math.abs((a.getRGB(x, y) >> shift & 0xff) - (b.getRGB(x, y) >> shift & 0xff)));
        return most;
    }

    /** panamasd_batch_size's count and sum. */
    private static double[] batchHistogram() {
        String metrics = client.text("/metrics");
        return new double[] {metric(metrics, "panamasd_batch_size_count"), metric(metrics, "panamasd_batch_size_sum")};
    }

    static double metric(String metrics, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(metrics);
        assertTrue(m.find(), name + " missing");
        return Double.parseDouble(m.group(1));
    }
}
