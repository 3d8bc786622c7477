package org.panamasd.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import org.panamasd.benchmark.BenchSettings;
import org.panamasd.memoryprofile.MemoryProfile;
import org.panamasd.memoryprofile.MemoryProfiler;
import org.panamasd.memoryprofile.ProfileComparison;
import org.panamasd.nn.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A native-memory profile of a generation or of one bench-model part: which module and op hold the allocator's
 * peak, what RSS is made of at its own peak, and a plot of both over time; or two such profiles compared.
 */
@Command(name = "profile-memory", sortOptions = false,
        description = "Native-memory profile of a generation or a model part: the live set at the allocator's peak by module and op, RSS explained, a timeline plot (PNG), JSON and JFR.")
final class ProfileMemoryCommand implements Runnable {
    @Spec
    CommandSpec spec;
    @Option(names = "--model", defaultValue = "sd15", description = "sd15, sdxl, tiny, tiny-xl or a diffusers directory (default: ${DEFAULT-VALUE}).")
    String model;
    @Option(names = "--part", defaultValue = "generate", description = "generate (text encoding, the steps, the VAE decode), unet, vae or clip (default: ${DEFAULT-VALUE}).")
    String part;
    @Option(names = "--latent", defaultValue = "64", description = "Latent height and width; the image is 8x that (default: ${DEFAULT-VALUE}).")
    int latent;
    @Option(names = "--steps", defaultValue = "1", description = "Euler steps of a generation (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--guidance", defaultValue = "7.5", description = "Guidance scale of a generation; above 1 the UNet runs on a batch of 2 (default: ${DEFAULT-VALUE}).")
    double guidance;
    @Option(names = "--batch", defaultValue = "2", description = "UNet and text-encoder batch of the unet and clip parts (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--vae-batch", defaultValue = "1", description = "VAE decode batch of the vae part (default: ${DEFAULT-VALUE}).")
    int vaeBatch;
    @Option(names = "--calls", defaultValue = "1", description = "Calls of the part (or generations) in the recording (default: ${DEFAULT-VALUE}).")
    int calls;
    @Mixin
    PrecisionOption precision;
    @Mixin
    VaeTilingOptions vaeTiling;
    @Option(names = "--max-events", defaultValue = "8000000", description = "Room for allocation events, 32 bytes each, reserved outside the allocator (default: ${DEFAULT-VALUE}).")
    long maxEvents;
    @Option(names = "--sample-ms", defaultValue = "20", description = "RSS sampling period in milliseconds (default: ${DEFAULT-VALUE}).")
    long sampleMillis;
    @Option(names = "--storage", defaultValue = "float32", description = "float32, float16 or bfloat16 weights in a written named model (default: ${DEFAULT-VALUE}).")
    String storage;
    @Option(names = "--cache", description = "Where named models are written (default: runs/.cache/bench-models).")
    Path cache;
    @Option(names = "--out", defaultValue = "runs/profile-memory", description = "Directory for profile.json, profile.png and profile.jfr (default: ${DEFAULT-VALUE}).")
    Path out;
    @Option(names = "--overhead", paramLabel = "ROUNDS", description = "Instead of a profile: time the part ROUNDS times untracked and ROUNDS times recorded, alternating.")
    Integer overhead;
    @Option(names = "--compare", arity = "2", paramLabel = "JSON", description = "Compare two profile.json files by module instead of profiling (A B).")
    List<Path> compare;

    @Override
    public void run() {
        java.io.PrintWriter log = spec.commandLine().getOut();
        if (compare != null) {
            log.print(ProfileComparison.compare(compare.get(0), compare.get(1)));
            log.flush();
            return;
        }
        BenchSettings bench = new BenchSettings(latent, batch, vaeBatch, 1, 1, 0, false, precision.resolve(Precision.FLOAT32), vaeTiling.mode(), vaeTiling.tile);
        var settings = new MemoryProfiler.Settings(part, bench, steps, guidance, calls, maxEvents, sampleMillis);
        Path dir = BenchModels.directory("profile-memory", model, storage, cache);
        if (overhead != null) {
            var n = MemoryProfiler.overhead(dir, settings, overhead);
            log.printf("%s %s: %s; %d rounds, %d events per call%nuntracked %.3f s, recorded %.3f s (medians): recorded / untracked = %.3f%n", model, part,
                    n.get("input").asText(), overhead, n.get("events_per_call").asLong(), n.get("off_median_s").asDouble(), n.get("on_median_s").asDouble(),
                    n.get("on_over_off").asDouble());
            log.println("machine: " + org.panamasd.benchmark.MachineInfo.current().summary());
            return;
        }
        MemoryProfiler.Result result = MemoryProfiler.run(dir, model, settings, out);
        log.print(summary(result));
        log.println("wrote " + out.resolve("profile.json") + ", " + out.resolve("profile.png") + ", " + out.resolve("profile.jfr"));
    }

    static String summary(MemoryProfiler.Result result) {
        JsonNode r = result.report();
        MemoryProfile p = result.profile();
        StringBuilder s = new StringBuilder();
        s.append(r.path("model").asText()).append(' ').append(r.path("part").asText()).append(": ").append(r.path("input").asText()).append('\n');
        s.append(String.format("machine: %s, %d cores, libtorch threads %d%n", r.at("/machine/cpu").asText(), r.at("/machine/cores").asInt(),
                r.at("/machine/threads").asInt()));
        if (p.warning() != null) s.append("WARNING: ").append(p.warning()).append('\n');
        s.append(String.format("%d allocation events (%d dropped) over %.1f s%n", r.path("events").asLong(), r.path("events_dropped").asLong(),
                r.path("duration_s").asDouble()));
        s.append(String.format("allocator peak %s at %.2f s, in %s (%s); live then: %s in %d allocations%n", mib(p.peakBytes()), p.peakSeconds(),
                p.runningAtPeak().isEmpty() ? MemoryProfile.NO_MODULE : p.runningAtPeak(), p.opAtPeak(), mib(p.liveAtPeak()),
                r.at("/peak/live_allocations").asLong()));
        s.append("live at the peak, by block:\n");
        p.byBlock().stream().limit(8).forEach(g -> s.append(String.format("  %10s  %s%n", mib(g.bytes()), g.module())));
        s.append("live at the peak, by module and op (largest first):\n");
        p.byModuleOp().stream().limit(10).forEach(g -> s.append(String.format("  %10s  %4d x  %s  %s  %s%n", mib(g.bytes()), g.count(), g.module(), g.op(),
                String.join("; ", g.shapes()))));
        JsonNode b = r.at("/rss/breakdown_at_peak");
        if (!b.isMissingNode()) {
            s.append(String.format("RSS at its peak (%.2f s): %s = weight files %s + libraries %s + other files %s + anonymous %s%n", b.path("t_s").asDouble(),
                    mib(b.path("rss_bytes").asLong()), mib(b.path("weight_files_bytes").asLong()), mib(b.path("libraries_bytes").asLong()),
                    mib(b.path("other_files_bytes").asLong()), mib(b.path("anonymous_bytes").asLong())));
            s.append(String.format("  anonymous = allocator %s (prepacked conv weights %s) + pool's free blocks %s + malloc's free heap %s + JVM heap %s + JVM non-heap %s + recording %s + unexplained %s%n",
                    mib(b.path("allocator_bytes").asLong()), mib(b.path("allocator_prepacked_weights_bytes").asLong()), mib(b.path("pool_free_bytes").asLong()), mib(b.path("malloc_free_bytes").asLong()),
                    mib(b.path("jvm_heap_committed_bytes").asLong()), mib(b.path("jvm_non_heap_committed_bytes").asLong()),
                    mib(b.path("profiler_events_bytes").asLong()), mib(b.path("unexplained_bytes").asLong())));
        }
        return s.toString();
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (double) (1 << 20));
    }
}
