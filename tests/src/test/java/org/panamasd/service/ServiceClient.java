package org.panamasd.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A loopback client of the service's JSON API, as the tests use it. */
final class ServiceClient {
    static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;

    ServiceClient(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    String base() {
        return base;
    }

    record Reply(int status, JsonNode body, HttpResponse<byte[]> raw) {}

    Reply submit(String json) {
        return send(HttpRequest.newBuilder(URI.create(base + "/api/jobs")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    Reply get(String path) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
    }

    Reply delete(String path) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).DELETE());
    }

    String text(String path) {
        return new String(get(path).raw().body(), java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Polls a job until it has a final state (or the time is up) and returns its last status. */
    JsonNode awaitFinished(String id, Duration limit) throws InterruptedException {
        return await(id, state -> !UNFINISHED.contains(state), "finished", limit);
    }

    /** Polls until {@code state} (or the time is up). */
    JsonNode awaitState(String id, String state, Duration limit) throws InterruptedException {
        return await(id, state::equals, state, limit);
    }

    static final java.util.Set<String> UNFINISHED = java.util.Set.of("queued", "running");

    private JsonNode await(String id, java.util.function.Predicate<String> reached, String what, Duration limit) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (true) {
            JsonNode status = get("/api/jobs/" + id).body();
            if (reached.test(status.path("state").asText())) return status;
            if (System.nanoTime() > end) throw new AssertionError("job " + id + " is " + status + ", not " + what + " after " + limit);
            Thread.sleep(20);
        }
    }

    /** Follows a job's progress stream to its final event, which it returns (the way the web page waits). */
    JsonNode followEvents(String id) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/api/jobs/" + id + "/events")).header("Accept", "text/event-stream")
                .timeout(Duration.ofMinutes(5)).GET().build();
        try {
            HttpResponse<java.util.stream.Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
            try (var lines = response.body()) {
                JsonNode last = null;
                for (String line : (Iterable<String>) lines::iterator) {
                    if (!line.startsWith("data: ")) continue;
                    last = JSON.readTree(line.substring(6));
                    if (!UNFINISHED.contains(last.path("state").asText())) return last;
                }
                throw new AssertionError("the stream of job " + id + " ended at " + last);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private Reply send(HttpRequest.Builder request) {
        try {
            HttpResponse<byte[]> response = http.send(request.timeout(Duration.ofMinutes(2)).build(), HttpResponse.BodyHandlers.ofByteArray());
            String type = response.headers().firstValue("Content-Type").orElse("");
            JsonNode body = type.startsWith("application/json") ? JSON.readTree(response.body()) : null;
            return new Reply(response.statusCode(), body, response);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
