package org.panamasd.benchmark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.MemoryStats;
import org.panamasd.OpTimes;
import org.panamasd.Scope;
import org.panamasd.nn.ConvBackend;
import org.panamasd.nn.ConvBackends;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.pipelines.StableDiffusionXLPipeline;

/**
 * Measures one part of a model directory in this process and returns its results as JSON (the form a child
 * process hands back too): load time, the timed calls, FLOPs and GFLOP/s, resident memory and the allocator's
 * peak, and the op profile.
 */
public final class PartRunner {
    public static final List<String> PARTS = List.of("load", "clip", "unet", "vae");
    static final String PROFILE_METHOD = "one more repeat after the timed ones (not in their min / median), with OpTimes on: the Java bridge times every native op call "
            + "(System.nanoTime around the downcall; on CPU the op's compute, libtorch's threads working inside it), named by shim "
            + "function or ATen operator and grouped by family; 'outside ops' is the rest of the repeat's wall time (Java code, the "
            + "bridge, scope closes, untimed calls)";
    private static final ObjectMapper JSON = new ObjectMapper();

    private PartRunner() {}

    /**
     * Runs {@code part}. With {@code resetPeakRss} the RSS peak is reset after the load (so it covers the compute
     * with the weights resident); without, it is the process's peak since it started, load included.
     */
    public static ObjectNode run(Path dir, String part, BenchSettings s, boolean resetPeakRss) {
        org.panamasd.Torch.numThreads();  // the bridge and libtorch load before any clock starts
        if (part.equals("load")) return load(dir, s.dtype(), s.weights(), resetPeakRss && ProcessMemory.resetPeak());
        long rssBefore = ProcessMemory.rssBytes();
        long start = System.nanoTime();
        Workload w = switch (part) {
            case "unet" -> Workloads.unet(dir, s);
            case "vae" -> Workloads.vae(dir, s);
            case "clip" -> Workloads.clip(dir, s);
            default -> throw new IllegalArgumentException("unknown part '" + part + "' (parts: " + String.join(", ", PARTS) + ")");
        };
        try (w) {
            double loadSeconds = (System.nanoTime() - start) / 1e9;
            long rssAfterLoad = ProcessMemory.rssBytes(), allocatorAfterLoad = MemoryStats.now().allocatedBytes();
            boolean reset = resetPeakRss && ProcessMemory.resetPeak();
            MemoryStats.resetPeak();
            int perRepeat = part.equals("unet") ? s.steps() : 1;
            ConvBackends conv = ConvBackends.current();
            long shapesBefore = conv.shapesTimed();
            double timingBefore = conv.timingSeconds();
            org.panamasd.Torch.AttentionTimings attentionBefore = org.panamasd.Torch.attentionTimings();
            for (int i = 0; i < s.warmup() * perRepeat; i++) timed(w);
            Map<ConvBackend, Long> callsBefore = conv.calls();
            double[] seconds = new double[s.repeat() * perRepeat];
            ProcessTimes timesBefore = ProcessTimes.now();
            MemoryStats.Pool poolBefore = MemoryStats.pool();
            for (int i = 0; i < seconds.length; i++) seconds[i] = timed(w) / 1e9;
            MemoryStats.Pool poolAfter = MemoryStats.pool();
            ProcessTimes timesAfter = ProcessTimes.now();
            Map<ConvBackend, Long> callsAfter = conv.calls();
            long rssPeak = ProcessMemory.peakRssBytes(), allocatorPeak = MemoryStats.now().peakBytes();
            ObjectNode n = JSON.createObjectNode().put("part", part).put("input", w.input()).put("load_s", loadSeconds)
                    .put("warmup_calls", s.warmup() * perRepeat).put("timed_calls", seconds.length);
            seconds(n, seconds);
            Flops f = w.flops();
            n.putObject("flops").put("conv", f.conv()).put("linear", f.linear()).put("attention", f.attention()).put("total", f.total());
            n.put("gflops_per_s_median", f.total() / n.get("median_s").asDouble() / 1e9).put("gflops_per_s_best", f.total() / n.get("min_s").asDouble() / 1e9);
            n.put("rss_before_load_bytes", rssBefore).put("rss_after_load_bytes", rssAfterLoad).put("rss_peak_bytes", rssPeak)
                    .put("rss_peak_covers", reset ? "the calls, weights resident (VmHWM reset after the load through /proc/self/clear_refs)"
                            : "the whole process since it started, load included (VmHWM not reset)");
            n.put("allocator_after_load_bytes", allocatorAfterLoad).put("allocator_peak_bytes", allocatorPeak);
            if (timesBefore != null && timesAfter != null) {  // per timed call, all threads: the kernel's share of a step and the pages it faulted in
                ProcessTimes t = timesAfter.since(timesBefore);
                n.putObject("per_timed_call").put("user_s", t.userNanos() / 1e9 / seconds.length).put("system_s", t.systemNanos() / 1e9 / seconds.length)
                        .put("minor_faults", t.minorFaults() / (double) seconds.length).put("major_faults", t.majorFaults() / (double) seconds.length)
                        // the allocator's own view: blocks of 1 MiB or more its pool served again, and those it had to map (fresh pages)
                        .put("pool_hits", (poolAfter.hits() - poolBefore.hits()) / (double) seconds.length)
                        .put("pool_maps", (poolAfter.maps() - poolBefore.maps()) / (double) seconds.length);
            }
            ObjectNode c = n.putObject("conv_backends").put("mode", conv.forced() == null ? "auto" : conv.forced().label)
                    .put("cache_file", String.valueOf(conv.file())).put("shapes_timed", conv.shapesTimed() - shapesBefore)
                    .put("timing_s", conv.timingSeconds() - timingBefore);
            ObjectNode byBackend = c.putObject("timed_calls_by_backend");
            for (ConvBackend b : ConvBackend.values()) byBackend.put(b.label, callsAfter.get(b) - callsBefore.get(b));
            org.panamasd.Torch.AttentionTimings attentionAfter = org.panamasd.Torch.attentionTimings();
            n.putObject("attention_choice").put("mode", org.panamasd.Torch.attentionChoice())
                    .put("shapes_timed", attentionAfter.shapes() - attentionBefore.shapes())
                    .put("flash_chosen", attentionAfter.flash() - attentionBefore.flash());
            if (s.profile()) n.set("profile", profile(w, perRepeat));
            return n;
        }
    }

    /** One call inside a fresh scope and inference mode, in nanoseconds, the scope's close included. */
    public static long timed(Workload w) {
        long start = System.nanoTime();
        try (Scope scope = Scope.open(); var inference = Autograd.inferenceMode()) {
            w.call();
        }
        return System.nanoTime() - start;
    }

    private static ObjectNode profile(Workload w, int calls) {
        long wall = 0;
        OpTimes.start();
        Map<String, OpTimes.Stat> ops;
        try {
            for (int i = 0; i < calls; i++) wall += timed(w);
        } finally {
            ops = OpTimes.stop();
        }
        return OpProfile.of(ops, wall).toJson(JSON, PROFILE_METHOD);
    }

    /** The whole directory through the pipeline's own loader (what generate does first): the layout loads, in this time. */
    private static ObjectNode load(Path dir, org.panamasd.DType dtype, org.panamasd.nn.WeightFormat weights, boolean peakReset) {
        long rssBefore = ProcessMemory.rssBytes(), start = System.nanoTime();
        boolean xl = Files.isDirectory(dir.resolve("text_encoder_2"));
        String pipeline;
        try (AutoCloseable loaded = xl ? StableDiffusionXLPipeline.load(dir, null, org.panamasd.Device.CPU, dtype, weights)
                : StableDiffusionPipeline.load(dir, null, org.panamasd.Device.CPU, dtype, weights)) {
            pipeline = loaded.getClass().getSimpleName() + " with " + (xl ? ((StableDiffusionXLPipeline) loaded).scheduler()
                    : ((StableDiffusionPipeline) loaded).scheduler()).getClass().getSimpleName();
            double seconds = (System.nanoTime() - start) / 1e9;
            return JSON.createObjectNode().put("part", "load").put("input", pipeline).put("load_s", seconds)
                    .put("rss_before_load_bytes", rssBefore).put("rss_after_load_bytes", ProcessMemory.rssBytes())
                    .put("rss_peak_bytes", ProcessMemory.peakRssBytes()).put("rss_peak_covers", peakReset ? "the load (VmHWM reset before it through /proc/self/clear_refs)"
                            : "the whole process since it started, load included (VmHWM not reset)")
                    .put("allocator_after_load_bytes", MemoryStats.now().allocatedBytes());
        } catch (Exception e) {
            if (e instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e);
        }
    }

    private static void seconds(ObjectNode n, double[] seconds) {
        var array = n.putArray("seconds");
        for (double v : seconds) array.add(v);
        n.put("min_s", Arrays.stream(seconds).min().orElseThrow()).put("median_s", median(seconds));
    }

    /** The median of {@code values} (the mean of the middle two for an even count). */
    public static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int m = sorted.length;
        return m % 2 == 1 ? sorted[m / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2;
    }
}
