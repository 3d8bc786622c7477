package org.panamasd.memoryprofile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jdk.jfr.Recording;
import org.panamasd.AllocationRecording;
import org.panamasd.Autograd;
import org.panamasd.Device;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.benchmark.BenchSettings;
import org.panamasd.benchmark.MachineInfo;
import org.panamasd.benchmark.PartRunner;
import org.panamasd.benchmark.ProcessMemory;
import org.panamasd.benchmark.Workload;
import org.panamasd.benchmark.Workloads;
import org.panamasd.io.AtomicFile;
import org.panamasd.models.vae.VaeTiling;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.pipelines.StableDiffusionXLPipeline;

/**
 * Runs one part of a model directory under an allocation recording, an RSS sampler and a JFR recording, from the
 * model's load to its close, and writes what {@link MemoryProfile} makes of it: {@code profile.json},
 * {@code profile.png} (the timeline with module bands) and {@code profile.jfr}.
 */
public final class MemoryProfiler {
    public static final List<String> PARTS = List.of("generate", "unet", "vae", "clip");
    static final String PREPACK_OP = "psd_tensor_conv2d_prepack";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private MemoryProfiler() {}

    /**
     * What to run: {@code part} (a whole generation of {@code steps} Euler steps at guidance {@code guidance}, or one call of
     * bench-model's unet, vae or clip part), at the sizes and dtype of {@code bench}; {@code calls} calls of a part;
     * room for {@code maxEvents} allocation events.
     */
    public record Settings(String part, BenchSettings bench, int steps, double guidance, int calls, long maxEvents, long samplePeriodMillis) {
        public Settings {
            if (!PARTS.contains(part)) throw new IllegalArgumentException("unknown part '" + part + "' (parts: " + String.join(", ", PARTS) + ")");
            if (steps < 1 || calls < 1 || maxEvents < 1 || samplePeriodMillis < 1)
                throw new IllegalArgumentException("steps, calls, the event capacity and the sample period must be at least 1");
        }
    }

    /** The profile, its RSS samples and breakdowns, and the report written as profile.json. */
    public record Result(MemoryProfile profile, List<RssSampler.Sample> rss, List<RssBreakdown> breakdowns, ObjectNode report) {}

    /** Profiles {@code part} of {@code dir} (named {@code model} in the report) and writes the report, plot and JFR file into {@code out}. */
    public static Result run(Path dir, String model, Settings s, Path out) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + out, e);
        }
        org.panamasd.Torch.numThreads();  // the bridge and libtorch load before the recording
        ProcessMemory.releaseFreed();
        MemoryStats.resetPeak();
        Path jfrFile = out.resolve("profile.jfr");
        AllocationRecording.Events events;
        List<RssSampler.Sample> rss;
        List<RssBreakdown> breakdowns;
        String input;
        try (Recording jfr = new Recording()) {
            jfr.enable("org.panamasd.TensorAllocation");
            jfr.enable("org.panamasd.ScopeClosed");
            jfr.enable("org.panamasd.TensorLeak");
            jfr.start();
            try (RssSampler sampler = new RssSampler(s.samplePeriodMillis(), 250); AllocationRecording recording = AllocationRecording.start(s.maxEvents())) {
                input = runPart(dir, s);
                events = recording.stop();
                sampler.close();
                rss = sampler.samples();
                breakdowns = sampler.breakdowns();
            }
            jfr.stop();
            AtomicFile.write(jfrFile, jfr::dump);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + jfrFile, e);
        }
        MemoryProfile profile = MemoryProfile.of(events);
        ObjectNode report = report(profile, rss, breakdowns, model, dir, s, input);
        write(out.resolve("profile.json"), report);
        ProfilePlot.write(profile, rss, model + " " + s.part() + ": " + input, out.resolve("profile.png"));
        return new Result(profile, rss, breakdowns, report);
    }

    /** Loads, runs and closes the part; returns its input in words. */
    private static String runPart(Path dir, Settings s) {
        BenchSettings b = s.bench();
        if (s.part().equals("generate")) {
            boolean xl = Files.isDirectory(dir.resolve("text_encoder_2"));
            try (AutoCloseable pipeline = xl ? StableDiffusionXLPipeline.load(dir, "EulerDiscreteScheduler", Device.CPU, b.dtype())
                    : StableDiffusionPipeline.load(dir, "EulerDiscreteScheduler", Device.CPU, b.dtype())) {
                var vae = xl ? ((StableDiffusionXLPipeline) pipeline).vae() : ((StableDiffusionPipeline) pipeline).vae();
                vae.tiling(VaeTiling.forConfig(vae.config(), b.vaeTiling(), b.vaeTile()));
                int pixels = b.latent() * vae.config().downscale();
                GenerationRequest request = GenerationRequest.of("a photo of an astronaut riding a horse on mars", s.steps(), s.guidance(), pixels, pixels, 0);
                for (int i = 0; i < s.calls(); i++) {
                    try (Scope scope = Scope.open(); var inference = Autograd.inferenceMode()) {
                        if (xl) ((StableDiffusionXLPipeline) pipeline).generate(request);
                        else ((StableDiffusionPipeline) pipeline).generate(request);
                    }
                }
                return pixels + "x" + pixels + " px, " + s.steps() + " Euler step(s), guidance " + s.guidance() + ", " + b.dtype().name().toLowerCase();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("closing the pipeline", e);
            }
        }
        try (Workload w = workload(dir, s)) {
            for (int i = 0; i < s.calls(); i++) PartRunner.timed(w);
            return w.input();
        }
    }

    private static Workload workload(Path dir, Settings s) {
        return switch (s.part()) {
            case "unet" -> Workloads.unet(dir, s.bench());
            case "vae" -> Workloads.vae(dir, s.bench());
            case "clip" -> Workloads.clip(dir, s.bench());
            default -> throw new IllegalArgumentException("the overhead is measured on a part (unet, vae or clip), not " + s.part());
        };
    }


    /**
     * What recording costs: {@code rounds} rounds of one call untracked and one call under an allocation recording (module
     * tracking on), in alternating order, after one warm-up call of each; the medians and their ratio, and the events one
     * call records. Stopping and reading the recording happen outside the timed call.
     */
    public static ObjectNode overhead(Path dir, Settings s, int rounds) {
        if (rounds < 1) throw new IllegalArgumentException("rounds must be at least 1");
        try (Workload w = workload(dir, s)) {
            PartRunner.timed(w);
            long events = recordedCall(w, s)[1];
            double[] off = new double[rounds], on = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                if (r % 2 == 0) {
                    off[r] = PartRunner.timed(w) / 1e9;
                    on[r] = recordedCall(w, s)[0] / 1e9;
                } else {
                    on[r] = recordedCall(w, s)[0] / 1e9;
                    off[r] = PartRunner.timed(w) / 1e9;
                }
            }
            ObjectNode n = JSON.createObjectNode().put("part", s.part()).put("input", w.input()).put("rounds", rounds).put("events_per_call", events);
            n.set("machine", MachineInfo.current().toJson(JSON));
            double offMedian = PartRunner.median(off), onMedian = PartRunner.median(on);
            n.put("off_median_s", offMedian).put("on_median_s", onMedian).put("on_over_off", onMedian / offMedian);
            ArrayNode offs = n.putArray("off_s"), ons = n.putArray("on_s");
            for (int r = 0; r < rounds; r++) {
                offs.add(off[r]);
                ons.add(on[r]);
            }
            return n;
        }
    }

    /** {nanoseconds of the call, events recorded}. */
    private static long[] recordedCall(Workload w, Settings s) {
        try (AllocationRecording recording = AllocationRecording.start(s.maxEvents())) {
            long nanos = PartRunner.timed(w);
            return new long[] {nanos, recording.stop().size()};
        }
    }


    private static ObjectNode report(MemoryProfile profile, List<RssSampler.Sample> rss, List<RssBreakdown> breakdowns, String model, Path dir,
                                     Settings s, String input) {
        ObjectNode n = JSON.createObjectNode();
        n.put("model", model).put("directory", dir.toString()).put("part", s.part()).put("input", input).put("calls", s.calls());
        n.set("machine", MachineInfo.current().toJson(JSON));
        n.setAll(profile.toJson(JSON));
        long start = profile.events().startNanos();
        RssSampler.Sample highest = rss.stream().max(java.util.Comparator.comparingLong(RssSampler.Sample::rssBytes)).orElse(null);
        ObjectNode r = n.putObject("rss");
        if (highest != null) r.put("peak_bytes", highest.rssBytes()).put("peak_t_s", (highest.timeNanos() - start) / 1e9);
        r.put("sample_period_ms", s.samplePeriodMillis());
        RssBreakdown atPeak = breakdowns.stream().max(java.util.Comparator.comparingLong(RssBreakdown::rss)).orElse(null);
        if (atPeak != null) {
            ObjectNode b = r.putObject("breakdown_at_peak");
            atPeak.toJson(b, start, profilerBytesAt(profile, atPeak.timeNanos()));
            // part of the allocator's bytes: oneDNN's reordered copies of conv weights, made at a conv's first prepacked call
            b.put("allocator_prepacked_weights_bytes", profile.liveBytesAt(atPeak.timeNanos(), PREPACK_OP));
        }
        ArrayNode t = r.putArray("t_s"), bytes = r.putArray("bytes");
        int stride = Math.max(1, rss.size() / 2000);
        for (int i = 0; i < rss.size(); i += stride) {
            t.add((rss.get(i).timeNanos() - start) / 1e9);
            bytes.add(rss.get(i).rssBytes());
        }
        return n;
    }

    /** The recording's own resident bytes at {@code time}: the events written by then (32 bytes each). */
    static long profilerBytesAt(MemoryProfile profile, long time) {
        long[] times = profile.events().timeNanos();
        int written = 0;
        while (written < times.length && times[written] <= time) written++;
        return 32L * written;
    }

    private static void write(Path file, ObjectNode report) {
        try {
            byte[] bytes = JSON.writeValueAsBytes(report);
            AtomicFile.write(file, temporary -> Files.write(temporary, bytes));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
