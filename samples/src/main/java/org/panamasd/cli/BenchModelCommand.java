package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.panamasd.DType;
import org.panamasd.benchmark.BenchSettings;
import org.panamasd.benchmark.BenchmarkDirectory;
import org.panamasd.benchmark.ModelBenchmark;
import org.panamasd.benchmark.ModelSpec;
import org.panamasd.benchmark.ModelSpecs;
import org.panamasd.benchmark.ReportTable;

/**
 * Full-size model benchmark: {@code bench-model [--model sd15|sdxl|tiny|tiny-xl|DIR] [--latent 32] [--batch 2]
 * [--vae-batch 1] [--steps 1] [--repeat 5] [--warmup 1] [--parts load,clip,unet,vae] [--profile true]
 * [--isolation auto|reset|process] [--storage float32|float16] [--cache DIR] [--json FILE]}. A named model is
 * written with random weights as a diffusers directory under the cache on first use; a DIR is measured as it is.
 */
final class BenchModelCommand {
    static void run(String[] args) {
        Options o = Options.parse("bench-model", args, Set.of("model", "latent", "batch", "vae-batch", "steps", "repeat", "warmup", "parts",
                "profile", "isolation", "storage", "cache", "json"));
        String model = o.string("model", "sd15");
        BenchSettings settings = new BenchSettings(o.integer("latent", 32), o.integer("batch", 2), o.integer("vae-batch", 1), o.integer("steps", 1),
                o.integer("repeat", 5), o.integer("warmup", 1), Boolean.parseBoolean(o.string("profile", "true")));
        List<String> parts = Arrays.stream(o.string("parts", "load,clip,unet,vae").split(",")).map(String::trim).filter(p -> !p.isEmpty()).toList();
        ModelBenchmark.Isolation isolation = switch (o.string("isolation", "auto")) {
            case "auto" -> ModelBenchmark.Isolation.auto();
            case "reset" -> ModelBenchmark.Isolation.RESET;
            case "process" -> ModelBenchmark.Isolation.PROCESS;
            default -> throw new IllegalArgumentException("bench-model: --isolation must be auto, reset or process");
        };
        ModelSpec spec = ModelSpecs.named(model);
        Path dir;
        String storage = null;
        if (spec != null) {
            DType dtype = switch (o.string("storage", "float32")) {
                case "float32" -> DType.FLOAT32;
                case "float16" -> DType.FLOAT16;
                default -> throw new IllegalArgumentException("bench-model: --storage must be float32 or float16");
            };
            storage = dtype.name().toLowerCase();
            Path cache = Path.of(o.string("cache", Paths.root().resolve("runs/.cache/bench-models").toString()));
            dir = BenchmarkDirectory.ensure(spec, cache, dtype, Paths.root().resolve("models/fashion-teacher/tokenizer"));
        } else {
            dir = Path.of(model);
            if (!Files.isRegularFile(dir.resolve("model_index.json")))
                throw new IllegalArgumentException("bench-model: --model must be sd15, sdxl, tiny, tiny-xl or a diffusers directory; " + model + " is neither");
        }
        var report = ModelBenchmark.run(model, dir, parts, settings, isolation, storage);
        System.out.print(ReportTable.format(report));
        if (o.has("json")) {
            ModelBenchmark.writeJson(report, Path.of(o.string("json", "")));
            System.out.println("wrote " + o.string("json", ""));
        }
    }

    private BenchModelCommand() {}
}
