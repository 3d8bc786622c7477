package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.panamasd.DType;
import org.panamasd.benchmark.BenchmarkDirectory;
import org.panamasd.models.ModelSpec;
import org.panamasd.models.ModelSpecs;

/** The model a benchmark command measures: a named one (written with random weights under the cache on first use) or a diffusers directory. */
final class BenchModels {
    private BenchModels() {}

    /** The directory of {@code model} (sd15, sdxl, tiny, tiny-xl or a directory), its weights stored as {@code storage} (float32 or float16) when named. */
    static Path directory(String command, String model, String storage, Path cache) {
        ModelSpec spec = ModelSpecs.named(model);
        if (spec == null) {
            Path dir = Path.of(model);
            if (!Files.isRegularFile(dir.resolve("model_index.json")))
                throw new IllegalArgumentException(command + ": --model must be sd15, sdxl, tiny, tiny-xl or a diffusers directory; " + model + " is neither");
            return dir;
        }
        Path where = cache != null ? cache : Paths.root().resolve("runs/.cache/bench-models");
        return BenchmarkDirectory.ensure(spec, where, storageType(command, storage), Paths.root().resolve("models/fashion-teacher/tokenizer"));
    }

    static DType storageType(String command, String storage) {
        return switch (storage) {
            case "float32" -> DType.FLOAT32;
            case "float16" -> DType.FLOAT16;
            case "bfloat16" -> DType.BFLOAT16;
            default -> throw new IllegalArgumentException(command + ": --storage must be float32, float16 or bfloat16, not " + storage);
        };
    }
}
