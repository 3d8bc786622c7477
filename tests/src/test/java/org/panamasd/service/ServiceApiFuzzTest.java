package org.panamasd.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tag;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.models.clip.CLIPTokenizer;

/**
 * The HTTP API fed made-up requests: JSON objects of the API's fields and others with values of every type, and
 * raw HTTP requests of any method, path, content type, Host, Origin and body. The parser accepts only requests
 * within the limits and refuses the rest with a {@link BadRequest}; the server answers every request without a
 * 5xx. Tries: {@code jqwik.tries.default} (the default suite a few seconds; {@code -Pfuzz} more).
 */
@Tag("fuzz")
class ServiceApiFuzzTest {
    private static final ServiceSettings SETTINGS = ServiceSettings.of(ServiceApiTest.MODEL).withAddress("127.0.0.1", 0).withQueueCapacity(2);
    private static RequestParser parser;
    private static ServiceServer server;

    @BeforeContainer
    static void start() {
        parser = new RequestParser(GenerationDefaults.of(ServiceApiTest.MODEL, 30, 7.5, 512), SETTINGS,
                CLIPTokenizer.load(ServiceApiTest.MODEL.resolve("tokenizer")), 77, java.util.Set.of());
        server = ServiceServer.start(SETTINGS);
    }

    @AfterContainer
    static void stop() {
        server.close();
    }

    @Provide
    Arbitrary<JsonNode> values() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return Arbitraries.oneOf(
                Arbitraries.integers().map(f::numberNode), Arbitraries.integers().between(-16, 600).map(f::numberNode),
                Arbitraries.longs().map(f::numberNode), Arbitraries.doubles().map(f::numberNode),
                Arbitraries.strings().ofMaxLength(30).map(f::textNode), Arbitraries.of("a bag", "", "  ", "DDIMScheduler", "a t-shirt " + "very ".repeat(90)).map(f::textNode),
                Arbitraries.of(f.nullNode(), f.booleanNode(true), f.arrayNode(), f.objectNode(), f.arrayNode().add(1).add("x"),
                        f.numberNode(new java.math.BigInteger("123456789012345678901234567890")), f.numberNode(Double.NaN)));
    }

    /** Any object of the API's fields and others, or a valid request with some of its fields changed. */
    @Provide
    Arbitrary<ObjectNode> bodies() {
        Arbitrary<String> names = Arbitraries.oneOf(Arbitraries.of(RequestParser.FIELDS.toArray(String[]::new)), Arbitraries.strings().ofMaxLength(8));
        Arbitrary<ObjectNode> any = Combinators.combine(names.list().ofMaxSize(8), values().list().ofSize(8)).as((keys, vals) -> {
            ObjectNode body = JsonNodeFactory.instance.objectNode();
            for (int i = 0; i < keys.size(); i++) body.set(keys.get(i), vals.get(i));
            return body;
        });
        Arbitrary<String> known = Arbitraries.of("steps", "width", "height", "guidance", "seed", "deadline_seconds");
        Arbitrary<Integer> sizes = Arbitraries.integers().between(0, 80).map(i -> 8 * i);
        Arbitrary<ObjectNode> nearValid = Combinators.combine(known.list().ofMaxSize(3), sizes.list().ofSize(3)).as((keys, vals) -> {
            ObjectNode body = JsonNodeFactory.instance.objectNode().put("prompt", "a bag");
            for (int i = 0; i < keys.size(); i++) body.put(keys.get(i), keys.get(i).equals("steps") ? vals.get(i) / 8 : vals.get(i));
            return body;
        });
        return Arbitraries.oneOf(any, nearValid);
    }

    @Property
    @net.jqwik.api.statistics.StatisticsReport(format = net.jqwik.api.statistics.Histogram.class)
    void theParserAcceptsOnlyRequestsWithinTheLimits(@ForAll("bodies") ObjectNode body) {
        GenerationParameters p;
        try {
            p = parser.parse(body);
        } catch (BadRequest refused) {
            net.jqwik.api.statistics.Statistics.collect("refused");
            return;
        }
        net.jqwik.api.statistics.Statistics.collect("accepted");
        ServiceSettings.CostLimits limits = SETTINGS.limits();
        check(p.steps() >= 1 && p.steps() <= limits.maxSteps(), "steps", p);
        check(p.width() % 8 == 0 && p.height() % 8 == 0 && p.width() <= limits.maxSide() && p.height() <= limits.maxSide(), "size", p);
        check((long) p.width() * p.height() * p.steps() <= limits.maxPixelSteps(), "pixel-steps", p);
        check(p.prompt() != null && !p.prompt().isBlank(), "prompt", p);
        check(Double.isFinite(p.guidance()) && p.guidance() >= 0, "guidance", p);
    }

    private static void check(boolean within, String what, GenerationParameters p) {
        if (!within) throw new AssertionError("accepted a request outside the limits (" + what + "): " + p);
    }

    /** One raw HTTP request. */
    record Request(String method, String path, String contentType, String host, String origin, String body) {}

    @Provide
    Arbitrary<Request> requests() {
        Arbitrary<String> methods = Arbitraries.of("GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD");
        Arbitrary<String> paths = Arbitraries.oneOf(Arbitraries.of("/api/jobs", "/api/jobs/x", "/api/jobs/x/image.png", "/api/recent", "/api/info",
                "/health", "/metrics", "/", "/api/jobs/%00", "/../../etc/passwd", "/api/jobs/" + "a".repeat(300)),
                Arbitraries.strings().withCharRange('!', '~').ofMaxLength(20).map(s -> "/" + s.replace(" ", "")));
        Arbitrary<String> types = Arbitraries.of("application/json", "text/plain", "application/json; charset=utf-8", "multipart/form-data", "", "x");
        Arbitrary<String> hosts = Arbitraries.of("127.0.0.1", "localhost", "evil.example", "[::1]", "");
        Arbitrary<String> origins = Arbitraries.of("", "null", "http://evil.example", "http://127.0.0.1");
        Arbitrary<String> payloads = Arbitraries.oneOf(bodies().map(JsonNode::toString), Arbitraries.strings().ofMaxLength(200),
                Arbitraries.of("{\"prompt\": \"a bag\", \"steps\": 1}", "{", "[]", "{\"prompt\": \"a bag\", \"width\": 512, \"height\": 512}"));
        return Combinators.combine(methods, paths, types, hosts, origins, payloads).as(Request::new);
    }

    @Property
    void everyRequestGetsAnAnswerThatIsNotAServerError(@ForAll("requests") Request r) throws Exception {
        int port = server.port();
        byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder(r.method() + " " + r.path() + " HTTP/1.1\r\nConnection: close\r\n");
        if (!r.host().isEmpty()) head.append("Host: ").append(r.host()).append(':').append(port).append("\r\n");
        if (!r.origin().isEmpty()) head.append("Origin: ").append(r.origin().equals("http://127.0.0.1") ? r.origin() + ":" + port : r.origin()).append("\r\n");
        if (!r.contentType().isEmpty()) head.append("Content-Type: ").append(r.contentType()).append("\r\n");
        head.append("Content-Length: ").append(body.length).append("\r\n\r\n");
        String status;
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(30_000);
            socket.getOutputStream().write(head.toString().getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().write(body);
            status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
        }
        if (status == null || !status.startsWith("HTTP/1.1 ")) throw new AssertionError("no HTTP answer to " + r + ": " + status);
        int code = Integer.parseInt(status.substring(9, 12));
        if (code >= 500) throw new AssertionError(code + " for " + r);
        if (code == 202 && !List.of("127.0.0.1", "localhost", "[::1]", "").contains(r.host())) throw new AssertionError("a foreign Host submitted a job: " + r);
    }
}
