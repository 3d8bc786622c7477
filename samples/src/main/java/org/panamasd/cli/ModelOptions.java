package org.panamasd.cli;

import java.nio.file.Path;
import org.panamasd.pipelines.ModelSource;
import picocli.CommandLine.Option;

/** The model a command generates with: a diffusers directory or a single file, and how to read a single file (generate, serve). */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR|FILE", description = {"A diffusers SD 1.x / 2.x / SDXL pipeline directory, or such a checkpoint in one",
            "original-layout .safetensors file (default: models/fashion-turbo; serve takes SD 1.x / 2.x)."})
    Path model;
    @Option(names = "--config", paramLabel = "DIR", description = {"With a single-file --model: the diffusers configs to build it from (unet/, vae/,",
            "text_encoder/ config.json, scheduler/, tokenizer/); default: told from the file's keys and shapes."})
    Path config;
    @Option(names = "--ema", description = "With a single-file --model: the UNet's EMA weights (model_ema.*).")
    boolean ema;
    @Option(names = "--prediction-type", paramLabel = "TYPE", description = {"With a single-file --model: what its UNet predicts, epsilon or v_prediction (default: its config's;",
            "SD 2.x files: v_prediction, as the 768-pixel 2.1; a 512-pixel base file predicts epsilon)."})
    String predictionType;

    /** The model a fresh clone generates with. */
    static Path defaultModel() {
        return Paths.root().resolve("models/fashion-turbo");
    }

    /** --model, else the shipped default. */
    Path path() {
        return model != null ? model : defaultModel();
    }

    /** Where the model loads from, checked. */
    ModelSource source() {
        return ModelPipeline.source(path(), config, ema, predictionType);
    }
}
