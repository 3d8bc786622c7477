package org.panamasd.service;

import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpStatus;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a browser may make the service do on a page of another site, refused before any handler runs (as
 * Jupyter does):
 * <ul>
 * <li><b>DNS rebinding</b>: a page whose name is made to resolve to this machine talks to the service as its
 * own origin and could read {@code /api/recent}. Only a {@code Host} the service answers as is served: an IP
 * address (a rebinding page cannot use one: it is another origin than its own), {@code localhost}, the name it
 * listens on, and the names of {@code --allow-host} ({@code *}: any).</li>
 * <li><b>Cross-site requests</b>: a foreign page can POST {@code text/plain} without a preflight. A request that
 * changes state must carry no {@code Origin} but the service's own, and a submission must be
 * {@code application/json} (which a foreign page cannot send without a preflight the service does not answer).</li>
 * </ul>
 */
final class RequestGuard {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Set<HandlerType> READS = Set.of(HandlerType.GET, HandlerType.HEAD, HandlerType.OPTIONS);

    private final String listenHost;
    private final boolean anyHost;
    private final Set<String> allowed;

    RequestGuard(String listenHost, List<String> allowedHosts) {
        this.listenHost = listenHost.toLowerCase(Locale.ROOT);
        this.anyHost = allowedHosts.contains("*");
        this.allowed = Set.copyOf(allowedHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList());
    }

    /** Javalin's before-handler: answers 403 (or 415) and skips the endpoint when the request is refused. */
    void check(Context ctx) {
        String refusal = refusal(ctx.method(), ctx.header("Host"), ctx.header("Origin"), ctx.path(), ctx.contentType());
        if (refusal == null) return;
        HttpStatus status = refusal.startsWith("Content-Type") ? HttpStatus.UNSUPPORTED_MEDIA_TYPE : HttpStatus.FORBIDDEN;
        ctx.skipRemainingHandlers();
        ctx.status(status).json(Map.of("error", refusal));
    }

    /** Why the request is refused, or null when it is served. */
    String refusal(HandlerType method, String host, String origin, String path, String contentType) {
        if (host != null && !answersAs(hostName(host)))
            return "Host '" + host + "' is not a name this service answers as (an IP address, localhost, " + listenHost
                    + " or a name given with --allow-host)";
        if (READS.contains(method)) return null;
        if (origin != null && !sameAuthority(origin, host))
            return "Origin '" + origin + "' is another site: the service takes changes only from its own pages";
        if (method == HandlerType.POST && "/api/jobs".equals(path) && !isJson(contentType))
            return "Content-Type must be application/json, got " + (contentType == null ? "none" : "'" + contentType + "'");
        return null;
    }

    private boolean answersAs(String name) {
        return anyHost || name.equals("localhost") || name.equals(listenHost) || allowed.contains(name) || IPV4.matcher(name).matches()
                || name.startsWith("[");
    }

    /** The name of a Host header without its port, lower case; an IPv6 literal keeps its brackets. */
    static String hostName(String host) {
        String h = host.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? h : h.substring(0, end + 1);
        }
        int colon = h.lastIndexOf(':');
        return colon < 0 ? h : h.substring(0, colon);
    }

    /** Whether an Origin ("scheme://host[:port]") names the same host and port as the request's Host header. */
    private static boolean sameAuthority(String origin, String host) {
        if (host == null) return false;
        int scheme = origin.indexOf("://");
        if (scheme < 0) return false;  // "null" (a sandboxed or file page) and anything malformed
        return origin.substring(scheme + 3).equalsIgnoreCase(host.trim());
    }

    private static boolean isJson(String contentType) {
        if (contentType == null) return false;
        int semicolon = contentType.indexOf(';');
        String type = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim();
        return type.equalsIgnoreCase("application/json");
    }
}
