package org.panamasd.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What a diffusers pipeline directory holds and what is wrong with it, without building any model: the
 * components {@code model_index.json} lists, the files the loaders of this project read from each
 * ({@code StableDiffusionPipeline} and {@code StableDiffusionXLPipeline}), every safetensors file opened with
 * {@link SafeTensors} (so its header is checked as a load would check it) and every config parsed with
 * {@link DiffusersConfig}. Problems are collected, not thrown, so one look shows all of them.
 */
public final class DiffusersDirectory {
    /** The files each kind of component must have, as the loaders open them. */
    private static final Map<String, List<String>> REQUIRED_FILES = Map.of(
            "tokenizer", List.of("vocab.json", "merges.txt"),
            "tokenizer_2", List.of("vocab.json", "merges.txt"),
            "text_encoder", List.of("config.json", "model.safetensors"),
            "text_encoder_2", List.of("config.json", "model.safetensors"),
            "unet", List.of("config.json", "diffusion_pytorch_model.safetensors"),
            "vae", List.of("config.json", "diffusion_pytorch_model.safetensors"),
            "scheduler", List.of("scheduler_config.json"));
    private static final List<String> SD = List.of("tokenizer", "text_encoder", "unet", "vae", "scheduler");
    private static final List<String> SDXL_EXTRA = List.of("tokenizer_2", "text_encoder_2");

    /** One component: its model_index.json entry ([library, class]; null when not listed) and its safetensors files. */
    public record Component(String name, String library, String className, Path directory, Map<Path, SafeTensors> weights) {
        public long parameters() {
            return weights.values().stream().mapToLong(DiffusersDirectory::parameters).sum();
        }
    }

    /** The directory's pipeline class (null when model_index.json is unreadable), components and every problem found. */
    public record Report(Path directory, String pipelineClass, List<Component> components, List<String> errors) {
        public boolean valid() {
            return errors.isEmpty();
        }
    }

    /** Looks at a pipeline directory (one with model_index.json). */
    public static Report check(Path directory) {
        List<String> errors = new ArrayList<>();
        List<Component> components = new ArrayList<>();
        Path index = directory.resolve("model_index.json");
        if (!Files.isRegularFile(index)) {
            errors.add("no model_index.json: not a diffusers pipeline directory");
            return new Report(directory, null, components, errors);
        }
        JsonNode model;
        try {
            model = DiffusersConfig.readJson(index);
        } catch (IOException e) {
            errors.add("model_index.json is not valid JSON: " + e.getMessage());
            return new Report(directory, null, components, errors);
        }
        if (model == null || !model.isObject()) {
            errors.add("model_index.json is not a JSON object");
            return new Report(directory, null, components, errors);
        }
        String pipelineClass = model.path("_class_name").asText(null);
        boolean xl = model.has("text_encoder_2") || (pipelineClass != null && pipelineClass.contains("XL"));
        List<String> required = new ArrayList<>(SD);
        if (xl) required.addAll(SDXL_EXTRA);
        for (String name : required)
            if (!listed(model.get(name)))
                errors.add("model_index.json does not list '" + name + "', which " + (xl ? "an SDXL" : "an SD") + " pipeline needs");
        for (Map.Entry<String, JsonNode> field : model.properties()) {
            String name = field.getKey();
            JsonNode entry = field.getValue();
            if (name.startsWith("_") || !entry.isArray()) continue;  // _class_name, _diffusers_version, flags such as requires_safety_checker
            if (entry.size() != 2) {
                errors.add("model_index.json: '" + name + "' should be [library, class], got " + entry);
                continue;
            }
            if (!listed(entry)) continue;  // listed as absent, e.g. safety_checker: [null, null]
            components.add(component(directory, name, entry.get(0).asText(), entry.get(1).asText(), errors));
        }
        return new Report(directory, pipelineClass, components, errors);
    }

    /** A model_index.json entry that names a component: [library, class], neither null. */
    private static boolean listed(JsonNode entry) {
        return entry != null && entry.isArray() && entry.size() == 2 && !entry.get(0).isNull() && !entry.get(1).isNull();
    }

    private static Component component(Path root, String name, String library, String className, List<String> errors) {
        Path dir = root.resolve(name);
        Map<Path, SafeTensors> weights = new LinkedHashMap<>();
        if (!Files.isDirectory(dir)) {
            errors.add(name + "/: missing (model_index.json lists " + className + ")");
            return new Component(name, library, className, dir, weights);
        }
        for (String file : REQUIRED_FILES.getOrDefault(name, List.of()))
            if (!Files.isRegularFile(dir.resolve(file))) errors.add(name + "/: no " + file);
        for (Path config : List.of(dir.resolve("config.json"), dir.resolve("scheduler_config.json"))) {
            if (!Files.isRegularFile(config)) continue;
            try {
                DiffusersConfig.read(config);
            } catch (IllegalArgumentException | UncheckedIOException e) {
                errors.add(name + "/" + config.getFileName() + ": " + rootMessage(e));
            }
        }
        for (Path file : safetensorsFiles(dir)) {
            try {
                weights.put(file, SafeTensors.open(file));
            } catch (IllegalArgumentException | UncheckedIOException e) {
                errors.add(name + "/" + file.getFileName() + ": " + e.getMessage());
            }
        }
        return new Component(name, library, className, dir, weights);
    }

    private static String rootMessage(Exception e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause().getMessage() != null) t = t.getCause();
        return t == e ? e.getMessage() : e.getMessage() + ": " + t.getMessage().lines().findFirst().orElse("");
    }

    /** The safetensors files directly in {@code dir}, sorted by name. */
    public static List<Path> safetensorsFiles(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /** The number of elements of every tensor in the file. */
    public static long parameters(SafeTensors file) {
        long total = 0;
        for (String key : file.keys()) total += numel(file.entry(key).shape());
        return total;
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long size : shape) n *= size;
        return n;
    }

    private DiffusersDirectory() {}
}
