package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import io.javalin.http.HandlerType;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which Host names, origins and content types {@link RequestGuard} lets through, request by request. */
class RequestGuardTest {
    private final RequestGuard loopback = new RequestGuard("127.0.0.1", List.of());

    @Test
    void hostsThatARebindingPageCannotUseAreAnswered() {
        for (String host : List.of("127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "10.0.0.7:80"))
            assertNull(loopback.refusal(HandlerType.GET, host, null, "/api/recent", null), host);
        for (String host : List.of("evil.example:8080", "evil.example", "127.0.0.1.evil.example", "localhost.evil.example:8080"))
            assertNotNull(loopback.refusal(HandlerType.GET, host, null, "/api/recent", null), host);
    }

    @Test
    void namesGivenWithAllowHostAndTheListenNameAreAnswered() {
        RequestGuard named = new RequestGuard("gpu-box.lan", List.of("sd.example.com"));
        assertNull(named.refusal(HandlerType.GET, "gpu-box.lan:8080", null, "/", null));
        assertNull(named.refusal(HandlerType.GET, "SD.example.com", null, "/", null));
        assertNotNull(named.refusal(HandlerType.GET, "other.example.com", null, "/", null));
        assertNull(new RequestGuard("127.0.0.1", List.of("*")).refusal(HandlerType.GET, "anything.example", null, "/", null));
    }

    @Test
    void changesComeOnlyFromTheServicesOwnOriginAndSubmissionsOnlyAsJson() {
        String host = "127.0.0.1:8080";
        assertNull(loopback.refusal(HandlerType.POST, host, "http://127.0.0.1:8080", "/api/jobs", "application/json"));
        assertNull(loopback.refusal(HandlerType.POST, host, null, "/api/jobs", "Application/JSON; charset=UTF-8"), "a client that is no browser");
        assertNotNull(loopback.refusal(HandlerType.POST, host, "http://evil.example", "/api/jobs", "application/json"));
        assertNotNull(loopback.refusal(HandlerType.POST, host, "http://127.0.0.1:9999", "/api/jobs", "application/json"), "another port is another origin");
        assertNotNull(loopback.refusal(HandlerType.DELETE, host, "null", "/api/jobs/1", null), "a sandboxed page");
        assertTrue(loopback.refusal(HandlerType.POST, host, null, "/api/jobs", "text/plain").startsWith("Content-Type"));
        assertTrue(loopback.refusal(HandlerType.POST, host, null, "/api/jobs", null).startsWith("Content-Type"));
        assertNull(loopback.refusal(HandlerType.GET, host, "http://evil.example", "/api/info", null), "reads are not changes");
    }
}
