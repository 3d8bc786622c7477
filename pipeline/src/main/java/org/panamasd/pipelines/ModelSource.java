package org.panamasd.pipelines;

import java.nio.file.Files;
import java.nio.file.Path;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.io.singlefile.SingleFileCheckpoint;

/**
 * Where a Stable Diffusion 1.x / 2.x model comes from: a diffusers directory, or one original-layout
 * {@code .safetensors} file built from the diffusers configs of {@code configDir} (a directory without weights;
 * its tokenizer/ too) or, without one, from the configs its keys and shapes tell ({@link SingleFileCheckpoint#detect})
 * with the CLIP tokenizer of {@code tokenizer}. {@code ema}: a single file's EMA UNet weights.
 */
public record ModelSource(Path path, Path configDir, Path tokenizer, boolean ema) {

    public static ModelSource directory(Path directory) {
        return new ModelSource(directory, null, null, false);
    }

    public boolean singleFile() {
        return Files.isRegularFile(path);
    }

    /** The scheduler config the model ships: the directory's, the config directory's, or the one its keys tell. */
    public org.panamasd.io.DiffusersConfig schedulerConfig() {
        if (!singleFile()) return org.panamasd.io.DiffusersConfig.read(path.resolve("scheduler/scheduler_config.json"));
        return configDir != null ? SingleFileCheckpoint.read(configDir).scheduler() : SingleFileCheckpoint.detect(SingleFileCheckpoint.open(path)).scheduler();
    }

    /** Where the generation defaults (panama-sd.json) are looked for: the directory, or a single file's config directory. */
    public Path defaultsDirectory() {
        return singleFile() && configDir != null ? configDir : path;
    }

    public StableDiffusionPipeline load(String schedulerClass, Device device, DType dtype) {
        if (!singleFile()) {
            if (configDir != null || ema) throw new IllegalArgumentException(path + " is a diffusers directory: a config directory and EMA weights apply to single files");
            return StableDiffusionPipeline.load(path, schedulerClass, device, dtype);
        }
        if (configDir != null)
            return StableDiffusionPipeline.loadSingleFile(path, SingleFileCheckpoint.read(configDir), configDir.resolve("tokenizer"), schedulerClass, device,
                    dtype, ema);
        SingleFileCheckpoint.Configs detected = SingleFileCheckpoint.detect(SingleFileCheckpoint.open(path));
        if (tokenizer == null) throw new IllegalArgumentException(path + ": a single file has no tokenizer; give a config directory with tokenizer/");
        return StableDiffusionPipeline.loadSingleFile(path, detected, tokenizer, schedulerClass, device, dtype, ema);
    }
}
