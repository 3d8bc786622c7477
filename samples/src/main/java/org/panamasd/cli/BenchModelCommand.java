package org.panamasd.cli;

import java.nio.file.Path;
import java.util.List;
import org.panamasd.benchmark.BenchSettings;
import org.panamasd.benchmark.ModelBenchmark;
import org.panamasd.models.ModelSpecs;
import org.panamasd.benchmark.ReportTable;
import org.panamasd.nn.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Full-size model benchmark. A named model is written with random weights as a diffusers directory under the
 * cache on first use; a DIR is measured as it is.
 */
@Command(name = "bench-model", sortOptions = false,
        description = "UNet step, VAE decode and text encoding of a full-size model: time, GFLOP/s, memory, op-family shares.")
final class BenchModelCommand implements Runnable {
    @Option(names = "--model", defaultValue = "sd15", description = "sd15, sdxl, tiny, tiny-xl or a diffusers directory (default: ${DEFAULT-VALUE}).")
    String model;
    @Option(names = "--latent", defaultValue = "32", description = "Latent height and width (default: ${DEFAULT-VALUE}).")
    int latent;
    @Option(names = "--batch", defaultValue = "2", description = "UNet and text-encoder batch (default: ${DEFAULT-VALUE}: CFG's two halves).")
    int batch;
    @Option(names = "--vae-batch", defaultValue = "1", description = "VAE decode batch (default: ${DEFAULT-VALUE}).")
    int vaeBatch;
    @Option(names = "--steps", defaultValue = "1", description = "Calls per repeat (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--repeat", defaultValue = "5", description = "Timed repeats (default: ${DEFAULT-VALUE}).")
    int repeat;
    @Option(names = "--warmup", defaultValue = "1", description = "Untimed repeats first (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--parts", defaultValue = "load,clip,unet,vae", split = ",", description = "Parts to measure (default: ${DEFAULT-VALUE}).")
    List<String> parts;
    @Option(names = "--profile", defaultValue = "true", arity = "1", description = "Time share per op family, from one extra repeat (default: ${DEFAULT-VALUE}).")
    boolean profile;
    @Option(names = "--isolation", defaultValue = "auto", description = "auto, reset (one process, peaks reset) or process (a JVM per part) (default: ${DEFAULT-VALUE}).")
    String isolation;
    @Option(names = "--storage", defaultValue = "float32", description = "float32, float16 or bfloat16 weights in a written directory (default: ${DEFAULT-VALUE}).")
    String storage;
    @Mixin
    PrecisionOption precision;
    @Mixin
    WeightsOption weights;
    @Mixin
    VaeTilingOptions vaeTiling;
    @Option(names = "--cache", description = "Where named models are written (default: runs/.cache/bench-models).")
    Path cache;
    @Option(names = "--json", description = "Also write the results as JSON to this file.")
    Path json;
    @Option(names = "--compare", paramLabel = "JSON", description = "Print each part's measures against a run saved with --json: now, then, now / then.")
    Path compare;

    @Override
    public void run() {
        BenchSettings settings = new BenchSettings(latent, batch, vaeBatch, steps, repeat, warmup, profile, precision.resolve(Precision.FLOAT32),
                vaeTiling.mode(), vaeTiling.tile, weights.format());
        List<String> chosen = parts.stream().map(String::trim).filter(p -> !p.isEmpty()).toList();
        ModelBenchmark.Isolation how = switch (isolation) {
            case "auto" -> ModelBenchmark.Isolation.auto();
            case "reset" -> ModelBenchmark.Isolation.RESET;
            case "process" -> ModelBenchmark.Isolation.PROCESS;
            default -> throw new IllegalArgumentException("bench-model: --isolation must be auto, reset or process, not " + isolation);
        };
        Path dir = BenchModels.directory("bench-model", model, storage, cache);
        String stored = ModelSpecs.named(model) == null ? null : BenchModels.storageType("bench-model", storage).name().toLowerCase();
        var report = ModelBenchmark.run(model, dir, chosen, settings, how, stored);
        System.out.print(ReportTable.format(report));
        if (compare != null) {
            try {
                var saved = new com.fasterxml.jackson.databind.ObjectMapper().readTree(compare.toFile());
                if (saved == null || !saved.has("parts") || !saved.has("machine"))
                    throw new IllegalArgumentException("bench-model: --compare " + compare + " is not a report written by bench-model --json");
                System.out.print(ReportTable.comparison(report, saved));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot read the saved run " + compare, e);
            }
        }
        if (json != null) {
            ModelBenchmark.writeJson(report, json);
            System.out.println("wrote " + json);
        }
    }
}
