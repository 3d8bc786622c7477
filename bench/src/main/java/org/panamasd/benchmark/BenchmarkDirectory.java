package org.panamasd.benchmark;

import org.panamasd.models.ModelSpec;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import org.panamasd.DType;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.PipelineDirectoryWriter;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;

/**
 * A benchmark model as a real diffusers directory with random weights, written once under a cache directory
 * and reused: {@code CACHE/NAME-STORAGE/}. Benchmarks then load it through the same loaders as downloaded
 * checkpoints. It is written aside and renamed into place, and carries a marker with the configs' fingerprint
 * written last, so a run killed half way, or a changed config, makes the next run write it again.
 */
public final class BenchmarkDirectory {
    static final String MARKER = "bench-model.json";
    private static final System.Logger LOG = System.getLogger(BenchmarkDirectory.class.getName());

    private BenchmarkDirectory() {}

    /**
     * The directory of {@code spec} under {@code cache}, written first when absent or stale. {@code tokenizer}
     * holds the real CLIP BPE files (vocab.json, merges.txt); SDXL's tokenizer_2 gets the same files with its
     * pad token "!", as stable-diffusion-xl-base-1.0 ships it.
     */
    public static Path ensure(ModelSpec spec, Path cache, DType storage, Path tokenizer) {
        Path target = cache.resolve(spec.name() + "-" + storage.name().toLowerCase());
        if (current(target, spec, storage)) return target;
        try {
            Files.createDirectories(cache);
            Path scratch = Files.createTempDirectory(cache, spec.name() + ".writing-");
            try {
                Files.setPosixFilePermissions(scratch, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));  // as mkdir would
            } catch (UnsupportedOperationException notPosix) {
                // other file systems keep their defaults
            }
            LOG.log(System.Logger.Level.INFO, "writing {0} with random weights ({1}) to {2}", spec.name(), storage, target);
            write(spec, scratch, storage, tokenizer);
            if (Files.exists(target)) deleteTree(target);  // stale: other configs or an unfinished write
            Files.move(scratch, target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the benchmark model " + target, e);
        }
    }

    /** Writes every component, one model in memory at a time (an SDXL UNet alone is 10 GB in float32). */
    static void write(ModelSpec spec, Path root, DType storage, Path tokenizer) throws IOException {
        PipelineDirectoryWriter writer = new PipelineDirectoryWriter(root);
        DiffusersConfig scheduler = spec.schedulerConfig();
        if (spec.xl()) writer.xlModelIndexAndScheduler(scheduler);
        else writer.modelIndexAndScheduler(scheduler);
        long seed = 0;
        for (int i = 0; i < spec.textEncoders().size(); i++) {
            String component = ModelSpec.textEncoderDirectory(i);
            writer.tokenizer(ModelSpec.tokenizerDirectory(i), tokenizer);
            DiffusersConfig config = DiffusersConfig.parse(spec.textEncoders().get(i));
            boolean projection = config.strings("architectures", java.util.List.of()).contains("CLIPTextModelWithProjection");
            try (CLIPTextModel model = CLIPTextModel.initialize(config, projection, seed++)) {
                writer.textEncoder(component, config, model.parameters(), storage);
            }
        }
        if (spec.xl()) padWithExclamationMark(root.resolve(ModelSpec.tokenizerDirectory(1)));
        try (UNet2DConditionModel unet = UNet2DConditionModel.initialize(spec.unetConfig(), seed++)) {
            writer.unet(spec.unetConfig(), unet.parameters(), storage);
        }
        try (AutoencoderKL vae = AutoencoderKL.initialize(spec.vaeConfig(), seed)) {
            writer.vae(spec.vaeConfig(), vae.parameters(), storage);
        }
        ObjectNode marker = new ObjectMapper().createObjectNode().put("model", spec.name()).put("fingerprint", spec.fingerprint())
                .put("storage", storage.name()).put("weights", "random (seeded), written by panama-sd bench-model");
        ComponentWriter.writeText(root.resolve(MARKER), marker.toPrettyString());
    }

    private static boolean current(Path target, ModelSpec spec, DType storage) {
        try {
            if (!Files.isRegularFile(target.resolve(MARKER))) return false;
            var marker = new ObjectMapper().readTree(target.resolve(MARKER).toFile());
            return spec.fingerprint().equals(marker.path("fingerprint").asText()) && storage.name().equals(marker.path("storage").asText());
        } catch (IOException e) {
            return false;
        }
    }

    /** SDXL's second tokenizer pads with "!" (open_clip's convention), in both of its config files. */
    private static void padWithExclamationMark(Path tokenizerDir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        for (String name : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            Path file = tokenizerDir.resolve(name);
            ObjectNode node = Files.exists(file) ? (ObjectNode) json.readTree(file.toFile()) : json.createObjectNode();
            node.put("pad_token", "!");
            ComponentWriter.writeText(file, node.toPrettyString());
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
