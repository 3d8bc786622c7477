package org.panamasd.benchmark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A bench-model run: each part of a model directory measured in turn, either in this process with the RSS peak
 * reset between parts ({@link Isolation#RESET}, where /proc/self/clear_refs may be written) or each in a child
 * JVM of its own ({@link Isolation#PROCESS}), and the results as one JSON document.
 */
public final class ModelBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final double PEAK_SECONDS = 1.0;

    public enum Isolation {
        /** In this process; VmHWM reset through /proc/self/clear_refs after each load. */
        RESET,
        /** A child JVM per part; its VmHWM is the part's own process peak (load included) where it cannot be reset. */
        PROCESS;

        /** RESET where this process may reset its RSS peak, else PROCESS. */
        public static Isolation auto() {
            return ProcessMemory.resetPeak() ? RESET : PROCESS;
        }
    }

    private ModelBenchmark() {}

    public static ObjectNode run(String model, Path dir, List<String> parts, BenchSettings s, Isolation isolation, String storage) {
        for (String p : parts) if (!PartRunner.PARTS.contains(p)) throw new IllegalArgumentException("unknown part '" + p + "' (parts: " + String.join(", ", PartRunner.PARTS) + ")");
        ObjectNode report = JSON.createObjectNode().put("tool", "panama-sd bench-model").put("model", model).put("directory", dir.toString());
        if (storage != null) report.put("weights_storage", storage);
        report.set("machine", MachineInfo.current().toJson(JSON));
        report.putObject("settings").put("latent", s.latent()).put("batch", s.batch()).put("vae_batch", s.vaeBatch()).put("steps", s.steps())
                .put("repeat", s.repeat()).put("warmup", s.warmup()).put("profile", s.profile())
                .put("dtype", s.dtype().name().toLowerCase()).put("vae_tiling", s.vaeTiling().name().toLowerCase()).put("vae_tile", s.vaeTile())
                .put("weights", s.weights().toString());
        report.put("isolation", isolation == Isolation.RESET ? "one process; RSS peak reset through /proc/self/clear_refs after each part's load"
                : "a child JVM per part");
        report.put("flops_counted", "analytically from each config and input shape (FlopCounter): convolutions, linear layers, attention's two "
                + "products; a multiply-add is 2 FLOPs; norms and elementwise ops not counted");
        // what the cores can do now (clock, neighbours): each part's FLOP/s is also stated as a share of it
        org.panamasd.Torch.FmaPeak peak = parts.stream().anyMatch(p -> !p.equals("load")) ? org.panamasd.Torch.fmaPeak(PEAK_SECONDS) : null;
        if (peak != null && peak.gflopsPerSecond() > 0)
            ((ObjectNode) report.get("machine")).put("fma_peak_gflops_per_s", peak.gflopsPerSecond()).put("fma_peak_lanes", peak.lanes())
                    .put("fma_peak_measured", "independent float32 FMA chains on every intra-op thread, best of about " + PEAK_SECONDS + " s (Torch.fmaPeak)");
        var results = report.putArray("parts");
        for (String part : parts) {
            ObjectNode result = isolation == Isolation.RESET ? PartRunner.run(dir, part, s, true) : inChild(dir, part, s);
            if (peak != null && peak.gflopsPerSecond() > 0 && result.has("gflops_per_s_best"))
                result.put("share_of_fma_peak_best", result.get("gflops_per_s_best").asDouble() / peak.gflopsPerSecond());
            results.add(result);
            if (isolation == Isolation.RESET) ProcessMemory.releaseFreed();
        }
        return report;
    }

    /** Runs one part in a child JVM with this JVM's options and class path, and reads back its JSON. */
    static ObjectNode inChild(Path dir, String part, BenchSettings s) {
        try {
            Path out = Files.createTempFile("bench-model-" + part, ".json");
            try {
                List<String> command = new ArrayList<>();
                command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
                command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
                command.addAll(List.of("-cp", System.getProperty("java.class.path"), PartProcess.class.getName(), dir.toString(), part, out.toString()));
                command.addAll(List.of(s.asArguments()));
                Process child = new ProcessBuilder(command).inheritIO().start();
                int status = child.waitFor();
                if (status != 0) throw new IllegalStateException("the " + part + " part's process exited with status " + status);
                return (ObjectNode) JSON.readTree(out.toFile());
            } finally {
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run the " + part + " part in a child process", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the " + part + " part ran", e);
        }
    }

    public static void writeJson(ObjectNode report, Path file) {
        try {
            org.panamasd.io.ComponentWriter.writeText(file, report.toPrettyString() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
