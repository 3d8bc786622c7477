package org.panamasd.benchmark;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * bench-model's JSON report as text: the settings and machine, a row per part, and the time shares per op family. Numbers
 * are written in the root locale (a point before decimals), as the saved reports and the docs' tables have them.
 */
public final class ReportTable {
    private ReportTable() {}

    public static String format(JsonNode r) {
        StringBuilder out = new StringBuilder();
        JsonNode s = r.get("settings"), m = r.get("machine");
        out.append(String.format(Locale.ROOT, "bench-model %s (%s%s)%n", r.get("model").asText(), r.get("directory").asText(),
                r.has("weights_storage") ? ", random weights stored as " + r.get("weights_storage").asText() : ""));
        out.append(String.format(Locale.ROOT, "latent %dx%d, UNet and text batch %d, VAE batch %d; %d warm-up, then %d x %d UNet steps / %d calls timed; computing in %s%n",
                s.get("latent").asInt(), s.get("latent").asInt(), s.get("batch").asInt(), s.get("vae_batch").asInt(), s.get("warmup").asInt(),
                s.get("repeat").asInt(), s.get("steps").asInt(), s.get("repeat").asInt(), s.path("dtype").asText("float32")));
        out.append(String.format(Locale.ROOT, "machine: %s (%s%s), %d cores; libtorch %s, %d intra-op threads; java %s%n", m.get("cpu").asText(),
                joined(m.get("flags")), m.has("isa_caps") ? "; capped: " + m.get("isa_caps").asText() : "", m.get("cores").asInt(), m.get("libtorch").asText(),
                m.get("threads").asInt(), m.get("java").asText()));
        out.append("BLAS: ").append(m.get("blas").asText()).append(System.lineSeparator());
        out.append(String.format(Locale.ROOT, "malloc: M_MMAP_THRESHOLD %s, M_TRIM_THRESHOLD %s; counting allocator %s%n", bytesOrDefault(m.get("malloc_mmap_threshold").asLong()),
                bytesOrDefault(m.get("malloc_trim_threshold").asLong()), m.get("counting_allocator").asBoolean() ? "on" : "off"));
        out.append("isolation: ").append(r.get("isolation").asText()).append(System.lineSeparator());
        out.append("FLOPs: ").append(r.get("flops_counted").asText()).append(System.lineSeparator()).append(System.lineSeparator());
        out.append(String.format(Locale.ROOT, "%-5s %9s %9s %9s %10s %10s %10s %10s %10s  %s%n", "part", "min s", "median s", "GFLOP", "GFLOP/s", "load s",
                "RSS load", "RSS peak", "alloc peak", "input"));
        for (JsonNode p : r.get("parts")) {
            boolean timed = p.has("median_s");
            out.append(String.format(Locale.ROOT, "%-5s %9s %9s %9s %10s %10.2f %10s %10s %10s  %s%n", p.get("part").asText(),
                    timed ? String.format(Locale.ROOT, "%.4f", p.get("min_s").asDouble()) : "-", timed ? String.format(Locale.ROOT, "%.4f", p.get("median_s").asDouble()) : "-",
                    timed ? String.format(Locale.ROOT, "%.2f", p.get("flops").get("total").asDouble() / 1e9) : "-",
                    timed ? String.format(Locale.ROOT, "%.1f", p.get("gflops_per_s_median").asDouble()) : "-", p.get("load_s").asDouble(),
                    gib(p.get("rss_after_load_bytes").asLong()), gib(p.get("rss_peak_bytes").asLong()),
                    p.has("allocator_peak_bytes") ? gib(p.get("allocator_peak_bytes").asLong()) : "-", p.get("input").asText()));
        }
        out.append("GFLOP/s from the median; RSS load: resident after the part's load; RSS peak: VmHWM, covering ");
        out.append(r.get("parts").size() > 0 ? r.get("parts").get(r.get("parts").size() - 1).get("rss_peak_covers").asText() : "-");
        out.append("; alloc peak: libtorch CPU allocator's peak bytes during the calls (MemoryStats; mapped weights are not allocator bytes).");
        out.append(System.lineSeparator());
        if (m.has("fma_peak_gflops_per_s")) {
            StringBuilder shares = new StringBuilder();
            for (JsonNode p : r.get("parts"))
                if (p.has("share_of_fma_peak_best")) shares.append(String.format(Locale.ROOT, ", %s %.1f %%", p.get("part").asText(), 100 * p.get("share_of_fma_peak_best").asDouble()));
            out.append(String.format(Locale.ROOT, "float32 FMA peak, measured (%d lanes, %d threads): %.1f GFLOP/s; best call's share of it%s%s%n", m.get("fma_peak_lanes").asInt(),
                    m.get("threads").asInt(), m.get("fma_peak_gflops_per_s").asDouble(), shares,
                    "bfloat16".equals(s.path("dtype").asText()) ? " (bfloat16 products on AVX512_BF16 do two multiply-adds an instruction: up to 200 %)" : ""));
        }
        kernelTimes(r, out);
        convBackends(r, out);
        for (JsonNode p : r.get("parts")) {
            JsonNode a = p.get("attention_choice");
            if (a != null && a.get("shapes_timed").asLong() > 0)
                out.append(String.format(Locale.ROOT, "attention, %s: %s; %d shapes timed (in the warm-up unless --warmup 0), the flash kernels chosen for %d%n",
                        p.get("part").asText(), a.get("mode").asText(), a.get("shapes_timed").asLong(), a.get("flash_chosen").asLong()));
        }
        profiles(r, out);
        return out.toString();
    }

    /**
     * This run against a saved one (bench-model --json): per part in both, each measure now and then with the ratio
     * now / then (below 1: less time or memory now), and whether the two ran on the same CPU and settings.
     */
    public static String comparison(JsonNode now, JsonNode then) {
        StringBuilder out = new StringBuilder();
        String cpuNow = now.at("/machine/cpu").asText(), cpuThen = then.at("/machine/cpu").asText();
        String capsNow = now.at("/machine/isa_caps").asText(""), capsThen = then.at("/machine/isa_caps").asText("");
        out.append(String.format(Locale.ROOT, "against the saved run (%s): %s, %s%s%n", then.path("tool").asText("bench-model"), then.get("model").asText(),
                cpuThen.equals(cpuNow) && now.at("/machine/flags").equals(then.at("/machine/flags")) ? "the same CPU model and extensions"
                        : "ANOTHER CPU (" + cpuThen + "): the ratios compare machines, not code",
                capsNow.equals(capsThen) ? "" : "; instruction-set caps differ: now [" + capsNow + "], then [" + capsThen + "]"));
        // a setting only one side has (a tool's own) is no difference; one both have with two values is
        StringBuilder differ = new StringBuilder();
        for (Iterator<Map.Entry<String, JsonNode>> it = now.get("settings").fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode other = then.get("settings").get(e.getKey());
            if (other != null && !other.equals(e.getValue())) differ.append(differ.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue()).append(" then ").append(other);
        }
        if (!differ.isEmpty()) out.append("settings differ: now ").append(differ).append('\n');
        out.append("| part | measure | now | then | now / then |\n| --- | --- | --- | --- | --- |\n");
        for (JsonNode p : now.get("parts")) {
            JsonNode q = null;
            for (JsonNode candidate : then.get("parts")) if (candidate.get("part").asText().equals(p.get("part").asText())) q = candidate;
            if (q == null) continue;
            String part = p.get("part").asText();
            for (String measure : new String[] {"/min_s", "/median_s", "/rss_peak_bytes", "/allocator_peak_bytes", "/per_timed_call/system_s", "/per_timed_call/minor_faults"}) {
                JsonNode a = p.at(measure), b = q.at(measure);
                if (a.isMissingNode() || b.isMissingNode()) continue;
                out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", part, measure.substring(1).replace('/', ' '), value(measure, a.asDouble()), value(measure, b.asDouble()),
                        b.asDouble() == 0 ? "-" : String.format(Locale.ROOT, "%.3f", a.asDouble() / b.asDouble())));
            }
        }
        return out.toString();
    }

    private static String value(String measure, double v) {
        if (measure.endsWith("bytes")) return gib((long) v);
        if (measure.endsWith("faults")) return String.format(Locale.ROOT, "%.0f", v);
        return String.format(Locale.ROOT, "%.4f s", v);
    }

    /** Per part, per timed call (getrusage, all threads): CPU time in user and kernel mode and the page faults. */
    private static void kernelTimes(JsonNode r, StringBuilder out) {
        for (JsonNode p : r.get("parts")) {
            if (!p.has("per_timed_call")) continue;
            JsonNode c = p.get("per_timed_call");
            double wall = p.get("median_s").asDouble();
            out.append(String.format(Locale.ROOT, "per timed call, %s: user %.2f s, system %.2f s (%.1f%% of the median wall time), %.0f minor and %.0f major page faults%n",
                    p.get("part").asText(), c.get("user_s").asDouble(), c.get("system_s").asDouble(), 100 * c.get("system_s").asDouble() / wall,
                    c.get("minor_faults").asDouble(), c.get("major_faults").asDouble()));
            if (c.has("pool_hits"))
                out.append(String.format(Locale.ROOT, "  block pool per timed call, %s: %.0f blocks reused, %.0f mapped%n", p.get("part").asText(),
                        c.get("pool_hits").asDouble(), c.get("pool_maps").asDouble()));
        }
    }

    /** Per part: the conv backend mode, the convs of the timed calls by backend, and shapes timed in the warm-up. */
    private static void convBackends(JsonNode r, StringBuilder out) {
        for (JsonNode p : r.get("parts")) {
            if (!p.has("conv_backends")) continue;
            JsonNode c = p.get("conv_backends");
            StringBuilder by = new StringBuilder();
            for (Iterator<Map.Entry<String, JsonNode>> it = c.get("timed_calls_by_backend").fields(); it.hasNext(); ) {
                var e = it.next();
                by.append(by.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue().asLong());
            }
            out.append(String.format(Locale.ROOT, "conv backends, %s: %s; convs in the timed calls: %s; %d new shapes timed (%.1f s, in the warm-up unless --warmup 0)%n",
                    p.get("part").asText(), c.get("mode").asText(), by, c.get("shapes_timed").asLong(), c.get("timing_s").asDouble()));
        }
    }

    private static void profiles(JsonNode r, StringBuilder out) {
        String method = null;
        for (JsonNode p : r.get("parts")) {
            if (!p.has("profile")) continue;
            JsonNode profile = p.get("profile");
            if (method == null) {
                method = profile.get("method").asText();
                out.append(System.lineSeparator()).append("time share per op family (").append(method).append("):").append(System.lineSeparator());
                out.append(String.format(Locale.ROOT, "%-5s", "part"));
                for (Iterator<String> it = profile.get("families").fieldNames(); it.hasNext(); ) out.append(String.format(Locale.ROOT, " %14s", it.next()));
                out.append(String.format(Locale.ROOT, "  %s%n", "top ops"));
            }
            out.append(String.format(Locale.ROOT, "%-5s", p.get("part").asText()));
            for (Iterator<Map.Entry<String, JsonNode>> it = profile.get("families").fields(); it.hasNext(); )
                out.append(String.format(Locale.ROOT, " %13.1f%%", 100 * it.next().getValue().get("share").asDouble()));
            out.append("  ");
            int shown = 0;
            for (JsonNode op : profile.get("ops")) {
                if (shown++ == 4) break;
                out.append(String.format(Locale.ROOT, "%s%s %.1f%%", shown > 1 ? ", " : "", op.get("name").asText().replace("psd_tensor_", ""),
                        100 * op.get("seconds").asDouble() / profile.get("wall_s").asDouble()));
            }
            out.append(System.lineSeparator());
        }
    }

    private static String joined(JsonNode array) {
        StringBuilder b = new StringBuilder();
        for (JsonNode f : array) b.append(b.isEmpty() ? "" : ",").append(f.asText());
        return b.isEmpty() ? "no AVX2" : b.toString();
    }

    private static String bytesOrDefault(long bytes) {
        return bytes == 0 ? "glibc default" : (bytes >> 20) + " MiB";
    }

    private static String gib(long bytes) {
        return bytes < 0 ? "?" : String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
