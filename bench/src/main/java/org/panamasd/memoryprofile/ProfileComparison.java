package org.panamasd.memoryprofile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Two profiles side by side (for example float32 against bfloat16, a whole VAE decode against a tiled one): the
 * totals, then the live set at each one's allocator peak by block and by module, with the difference B - A,
 * largest differences first.
 */
public final class ProfileComparison {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MODULE_ROWS = 15;

    private ProfileComparison() {}

    public static String compare(Path a, Path b) {
        JsonNode x = read(a), y = read(b);
        StringBuilder out = new StringBuilder();
        out.append("A: ").append(a).append(" (").append(x.path("model").asText()).append(' ').append(x.path("part").asText()).append(": ")
                .append(x.path("input").asText()).append(")\n");
        out.append("B: ").append(b).append(" (").append(y.path("model").asText()).append(' ').append(y.path("part").asText()).append(": ")
                .append(y.path("input").asText()).append(")\n\n");
        out.append("| measure | A | B | B - A | B / A |\n| --- | --- | --- | --- | --- |\n");
        row(out, "allocator peak", x.at("/peak/allocator_peak_bytes").asLong(), y.at("/peak/allocator_peak_bytes").asLong());
        row(out, "RSS peak", x.at("/rss/peak_bytes").asLong(-1), y.at("/rss/peak_bytes").asLong(-1));
        row(out, "allocator at the start", x.at("/peak/allocator_at_start_bytes").asLong(), y.at("/peak/allocator_at_start_bytes").asLong());
        out.append(String.format("| duration | %.1f s | %.1f s | %+.1f s | %.2f |%n", x.path("duration_s").asDouble(), y.path("duration_s").asDouble(),
                y.path("duration_s").asDouble() - x.path("duration_s").asDouble(), y.path("duration_s").asDouble() / x.path("duration_s").asDouble()));
        out.append("| running at the peak | ").append(x.at("/peak/running_module").asText()).append(" (").append(x.at("/peak/running_op").asText())
                .append(") | ").append(y.at("/peak/running_module").asText()).append(" (").append(y.at("/peak/running_op").asText()).append(") | | |\n\n");
        table(out, "block", x.at("/peak/by_block"), y.at("/peak/by_block"), Integer.MAX_VALUE);
        table(out, "module", x.at("/peak/by_module"), y.at("/peak/by_module"), MODULE_ROWS);
        return out.toString();
    }

    private static void table(StringBuilder out, String what, JsonNode a, JsonNode b, int limit) {
        Map<String, long[]> rows = new LinkedHashMap<>();
        for (JsonNode g : a) rows.computeIfAbsent(g.path("module").asText(), k -> new long[2])[0] = g.path("bytes").asLong();
        for (JsonNode g : b) rows.computeIfAbsent(g.path("module").asText(), k -> new long[2])[1] = g.path("bytes").asLong();
        List<Map.Entry<String, long[]>> sorted = new ArrayList<>(rows.entrySet());
        sorted.sort((p, q) -> Long.compare(Math.abs(q.getValue()[1] - q.getValue()[0]), Math.abs(p.getValue()[1] - p.getValue()[0])));
        out.append("Live at the allocator's peak, by ").append(what).append(" (largest differences first");
        if (sorted.size() > limit) out.append(", ").append(limit).append(" of ").append(sorted.size());
        out.append("):\n\n| ").append(what).append(" | A | B | B - A | B / A |\n| --- | --- | --- | --- | --- |\n");
        for (Map.Entry<String, long[]> e : sorted.subList(0, Math.min(limit, sorted.size()))) row(out, e.getKey(), e.getValue()[0], e.getValue()[1]);
        out.append('\n');
    }

    private static void row(StringBuilder out, String name, long a, long b) {
        out.append(String.format("| %s | %s | %s | %s | %s |%n", name, mib(a), mib(b), (b - a >= 0 ? "+" : "-") + mib(Math.abs(b - a)),
                a > 0 ? String.format("%.2f", b / (double) a) : "-"));
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "?" : String.format("%.1f MiB", bytes / (double) (1 << 20));
    }

    private static JsonNode read(Path file) {
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.has("peak")) throw new IllegalArgumentException(file + " is not a profile-memory report (no \"peak\")");
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the profile " + file, e);
        }
    }
}
