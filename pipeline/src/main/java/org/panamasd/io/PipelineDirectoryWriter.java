package org.panamasd.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * Writes a Stable Diffusion pipeline directory in diffusers' layout, as {@code save_pretrained} does:
 * {@code model_index.json}, {@code scheduler/scheduler_config.json}, {@code tokenizer/} (the CLIP BPE files),
 * {@code text_encoder/} (transformers config + model.safetensors), {@code unet/} and {@code vae/} (config +
 * diffusion_pytorch_model.safetensors). A component may instead be a link to another directory's (a student
 * shares its teacher's tokenizer, text encoder and VAE).
 */
public final class PipelineDirectoryWriter {
    private static final String MODEL_INDEX = """
            {
              "_class_name": "StableDiffusionPipeline",
              "_diffusers_version": "0.27.2",
              "feature_extractor": [null, null],
              "image_encoder": [null, null],
              "requires_safety_checker": false,
              "safety_checker": [null, null],
              "scheduler": ["diffusers", "%s"],
              "text_encoder": ["transformers", "CLIPTextModel"],
              "tokenizer": ["transformers", "CLIPTokenizer"],
              "unet": ["diffusers", "UNet2DConditionModel"],
              "vae": ["diffusers", "AutoencoderKL"]
            }
            """;
    private static final String XL_MODEL_INDEX = """
            {
              "_class_name": "StableDiffusionXLPipeline",
              "_diffusers_version": "0.27.2",
              "feature_extractor": [null, null],
              "force_zeros_for_empty_prompt": true,
              "image_encoder": [null, null],
              "scheduler": ["diffusers", "%s"],
              "text_encoder": ["transformers", "CLIPTextModel"],
              "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
              "tokenizer": ["transformers", "CLIPTokenizer"],
              "tokenizer_2": ["transformers", "CLIPTokenizer"],
              "unet": ["diffusers", "UNet2DConditionModel"],
              "vae": ["diffusers", "AutoencoderKL"]
            }
            """;
    private static final Map<String, String> METADATA = Map.of("format", "pt", "written_by", "panama-sd");

    private final Path root;

    public PipelineDirectoryWriter(Path root) {
        this.root = root;
    }

    public PipelineDirectoryWriter modelIndexAndScheduler(DiffusersConfig scheduler) {
        return modelIndexAndScheduler(MODEL_INDEX, scheduler);
    }

    /** As {@link #modelIndexAndScheduler}, for StableDiffusionXLPipeline (two tokenizers and text encoders, the second with projection). */
    public PipelineDirectoryWriter xlModelIndexAndScheduler(DiffusersConfig scheduler) {
        return modelIndexAndScheduler(XL_MODEL_INDEX, scheduler);
    }

    private PipelineDirectoryWriter modelIndexAndScheduler(String index, DiffusersConfig scheduler) {
        try {
            Files.createDirectories(root);
            ComponentWriter.writeText(root.resolve("model_index.json"), index.formatted(scheduler.className()));
            ComponentWriter.writeText(root.resolve("scheduler/scheduler_config.json"), scheduler.toJson());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + root, e);
        }
        return this;
    }

    /** Copies the tokenizer files (vocab.json, merges.txt and the configs that exist) from {@code source}. */
    public PipelineDirectoryWriter tokenizer(Path source) {
        return tokenizer("tokenizer", source);
    }

    /** As {@link #tokenizer(Path)}, into another component directory (SDXL's tokenizer_2). */
    public PipelineDirectoryWriter tokenizer(String component, Path source) {
        try {
            Files.createDirectories(root.resolve(component));
            for (String name : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
                Path from = source.resolve(name);
                if (Files.exists(from)) Files.copy(from, root.resolve(component).resolve(name), StandardCopyOption.REPLACE_EXISTING);
                else if (name.equals("vocab.json") || name.equals("merges.txt")) throw new IllegalArgumentException(source + " has no " + name);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the tokenizer from " + source, e);
        }
        return this;
    }

    public PipelineDirectoryWriter textEncoder(DiffusersConfig config, Map<String, Tensor> weights, DType storage) {
        return textEncoder("text_encoder", config, weights, storage);
    }

    /** As {@link #textEncoder(DiffusersConfig, Map, DType)}, into another component directory (SDXL's text_encoder_2). */
    public PipelineDirectoryWriter textEncoder(String component, DiffusersConfig config, Map<String, Tensor> weights, DType storage) {
        ComponentWriter.write(root.resolve(component), "config.json", config.toJson(), "model.safetensors", weights, storage, METADATA);
        return this;
    }

    public PipelineDirectoryWriter vae(DiffusersConfig config, Map<String, Tensor> weights, DType storage) {
        ComponentWriter.write(root.resolve("vae"), "config.json", config.toJson(), "diffusion_pytorch_model.safetensors", weights, storage, METADATA);
        return this;
    }

    public PipelineDirectoryWriter unet(DiffusersConfig config, Map<String, Tensor> weights, DType storage) {
        ComponentWriter.write(root.resolve("unet"), "config.json", config.toJson(), "diffusion_pytorch_model.safetensors", weights, storage, METADATA);
        return this;
    }

    /** Copies a component directory (e.g. the trained vae/) as it is. */
    public PipelineDirectoryWriter copyComponent(String name, Path source) {
        try {
            Files.createDirectories(root.resolve(name));
            try (var files = Files.list(source)) {
                for (Path f : files.toList()) Files.copy(f, root.resolve(name).resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + source + " to " + root.resolve(name), e);
        }
        return this;
    }

    /** Makes {@code name} a relative symbolic link to another pipeline directory's component (no duplicate weights). */
    public PipelineDirectoryWriter linkComponent(String name, Path otherRoot) {
        try {
            Path link = root.resolve(name);
            if (Files.isSymbolicLink(link) || Files.isRegularFile(link)) Files.delete(link);
            else if (Files.isDirectory(link)) throw new IllegalArgumentException(link + " is a directory; remove it before linking");
            Files.createDirectories(root);
            Files.createSymbolicLink(link, root.toAbsolutePath().relativize(otherRoot.toAbsolutePath().resolve(name)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot link " + name + " of " + root, e);
        }
        return this;
    }
}
