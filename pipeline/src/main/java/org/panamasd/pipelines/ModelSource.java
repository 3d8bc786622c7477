package org.panamasd.pipelines;

import java.nio.file.Files;
import java.nio.file.Path;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.io.singlefile.SingleFileCheckpoint;
import org.panamasd.nn.WeightFormat;

/**
 * Where a Stable Diffusion 1.x / 2.x or SDXL model comes from: a diffusers directory, or one original-layout
 * {@code .safetensors} file built from the diffusers configs of {@code configDir} (a directory without weights;
 * its tokenizer/ too) or, without one, from the configs its keys and shapes tell ({@link SingleFileCheckpoint#detect})
 * with the CLIP tokenizer of {@code tokenizer}. {@code ema}: a single file's EMA UNet weights. {@code predictionType}
 * ({@code epsilon}, {@code v_prediction}; null: the config's) is what a single file cannot tell about itself.
 */
public record ModelSource(Path path, Path configDir, Path tokenizer, boolean ema, String predictionType) {

    public ModelSource(Path path, Path configDir, Path tokenizer, boolean ema) {
        this(path, configDir, tokenizer, ema, null);
    }

    public static ModelSource directory(Path directory) {
        return new ModelSource(directory, null, null, false);
    }

    /** A single file's configs: the config directory's or the ones its keys tell, with the prediction type asked for. */
    private SingleFileCheckpoint.Configs configs() {
        SingleFileCheckpoint.Configs c = configDir != null ? SingleFileCheckpoint.read(configDir) : SingleFileCheckpoint.detect(SingleFileCheckpoint.open(path));
        return predictionType == null ? c : c.withPredictionType(predictionType);
    }

    public boolean singleFile() {
        return Files.isRegularFile(path);
    }

    /** The scheduler config the model ships: the directory's, the config directory's, or the one its keys tell. */
    public org.panamasd.io.DiffusersConfig schedulerConfig() {
        if (!singleFile()) return org.panamasd.io.DiffusersConfig.read(path.resolve("scheduler/scheduler_config.json"));
        return configs().scheduler();
    }

    /** Whether the model is SDXL: a directory with text_encoder_2/, or a single file whose keys (or config directory) say so. */
    public boolean xl() {
        if (!singleFile()) return Files.isDirectory(path.resolve("text_encoder_2"));
        return configDir != null ? SingleFileCheckpoint.read(configDir).xl() : SingleFileCheckpoint.isXl(SingleFileCheckpoint.open(path));
    }

    /** Where the generation defaults (panama-sd.json) are looked for: the directory, or a single file's config directory. */
    public Path defaultsDirectory() {
        return singleFile() && configDir != null ? configDir : path;
    }

    private void refuseSingleFileOptions() {
        if (configDir != null || ema || predictionType != null)
            throw new IllegalArgumentException(path + " is a diffusers directory: a config directory, EMA weights and a prediction type apply to single files");
    }

    /** A single file's (first) tokenizer: its config directory's, else the one given. */
    private Path tokenizerDirectory() {
        if (configDir != null) return configDir.resolve("tokenizer");
        if (tokenizer == null) throw new IllegalArgumentException(path + ": a single file has no tokenizer; give a config directory with tokenizer/");
        return tokenizer;
    }

    /** An SDXL model's pipeline ({@link #xl()}). */
    public StableDiffusionXLPipeline loadXl(String schedulerClass, Device device, DType dtype) {
        return loadXl(schedulerClass, device, dtype, WeightFormat.DENSE);
    }

    /** As {@link #loadXl(String, Device, DType)}, with linear and convolution weights in {@code weights}. */
    public StableDiffusionXLPipeline loadXl(String schedulerClass, Device device, DType dtype, WeightFormat weights) {
        if (!singleFile()) {
            refuseSingleFileOptions();
            return StableDiffusionXLPipeline.load(path, schedulerClass, device, dtype, weights);
        }
        Path second = configDir != null && Files.isDirectory(configDir.resolve("tokenizer_2")) ? configDir.resolve("tokenizer_2") : null;
        return StableDiffusionXLPipeline.loadSingleFile(path, configs(), tokenizerDirectory(), second, schedulerClass,
                device, dtype, ema, weights);
    }

    public StableDiffusionPipeline load(String schedulerClass, Device device, DType dtype) {
        return load(schedulerClass, device, dtype, WeightFormat.DENSE);
    }

    /** As {@link #load(String, Device, DType)}, with linear and convolution weights in {@code weights}. */
    public StableDiffusionPipeline load(String schedulerClass, Device device, DType dtype, WeightFormat weights) {
        if (!singleFile()) {
            refuseSingleFileOptions();
            return StableDiffusionPipeline.load(path, schedulerClass, device, dtype, weights);
        }
        return StableDiffusionPipeline.loadSingleFile(path, configs(), tokenizerDirectory(), schedulerClass, device,
                dtype, ema, weights);
    }
}
