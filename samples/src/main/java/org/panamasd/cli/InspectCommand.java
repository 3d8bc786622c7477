package org.panamasd.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import org.panamasd.io.DiffusersDirectory;
import org.panamasd.io.PngText;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.singlefile.LdmKeys;
import org.panamasd.io.singlefile.SingleFileCheckpoint;
import org.panamasd.lora.LoraAdapter;
import org.panamasd.lora.LoraLayer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * What a file holds, without running a model: a PNG's generation settings (its text chunks), a safetensors file's
 * tensors, or a diffusers directory's components, tensors and problems. Reads with the project's own readers
 * ({@link PngText}, {@link SafeTensors}, {@link DiffusersDirectory}), so it sees a file as a load would.
 * A corrupt file, or a directory with problems, exits 2.
 */
@Command(name = "inspect", sortOptions = false, description = {
        "Shows what a PNG, a .safetensors file or a model directory holds.",
        "A PNG: the generation settings in its text chunks. A .safetensors file: its tensors (names, dtypes, shapes,",
        "parameter counts). A diffusers directory: its components, their tensors, and every problem a load would hit.",
        "Exits 2 when the file is corrupt or the directory has problems."})
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PATH", description = "image.png, FILE.safetensors, or a directory (a diffusers pipeline or one component).")
    Path path;
    @Option(names = "--summary", description = "Per-file totals only, without the tensor list.")
    boolean summary;

    private PrintWriter out;

    @Override
    public Integer call() {
        out = spec.commandLine().getOut();
        if (!Files.exists(path)) throw new IllegalArgumentException(path + ": no such file or directory");
        if (Files.isDirectory(path)) return directory();
        String name = path.getFileName().toString().toLowerCase();
        if (name.endsWith(".safetensors")) {
            SafeTensors file = SafeTensors.open(path);
            if (LoraAdapter.looksLikeOne(file.keys())) lora();
            if (file.keys().stream().anyMatch(k -> k.startsWith(LdmKeys.UNET))) singleFile(file);
            safetensors(file, path.toString());
            return 0;
        }
        if (name.endsWith(".png")) return image();
        throw new IllegalArgumentException(path + ": not a .png, a .safetensors file or a directory");
    }

    private int image() {
        Map<String, String> text = PngText.read(path);
        if (text.isEmpty()) {
            out.println(path + ": a PNG without text metadata");
            return 0;
        }
        out.println(path + ":");
        text.forEach((key, value) -> {
            if (key.equals("parameters")) return;  // the same settings again, as one text; printed last
            out.printf("  %-16s %s%n", key, value);
        });
        if (text.containsKey("parameters")) out.println("parameters (A1111):\n  " + text.get("parameters").replace("\n", "\n  "));
        return 0;
    }

    private int directory() {
        if (!Files.isRegularFile(path.resolve("model_index.json")) && !DiffusersDirectory.safetensorsFiles(path).isEmpty()) {
            // one component (unet/, a feature network): its weights, nothing to validate against
            for (Path file : DiffusersDirectory.safetensorsFiles(path)) safetensors(SafeTensors.open(file), file.toString());
            return 0;
        }
        DiffusersDirectory.Report report = DiffusersDirectory.check(path);
        out.println(path + ": " + (report.pipelineClass() == null ? "not a readable diffusers pipeline" : report.pipelineClass()));
        long total = 0;
        for (DiffusersDirectory.Component c : report.components()) {
            long parameters = c.parameters();
            total += parameters;
            out.printf("  %-16s %-32s %s%n", c.name(), c.className(), c.weights().isEmpty() ? "" : String.format("%,d parameters", parameters));
        }
        out.printf("  %-16s %-32s %,d parameters%n", "total", "", total);
        if (!summary)
            for (DiffusersDirectory.Component c : report.components())
                c.weights().forEach((file, tensors) -> {
                    out.println();
                    safetensors(tensors, c.name() + "/" + file.getFileName());
                });
        out.println();
        if (report.valid()) {
            out.println("no problems found: every component the pipeline loads is there and readable");
            return 0;
        }
        out.println(report.errors().size() + " problem(s):");
        for (String error : report.errors()) out.println("  - " + error);
        throw new IllegalArgumentException(path + " has " + report.errors().size() + " problem(s), first: " + report.errors().getFirst());
    }

    /** One file: its metadata, then each tensor's name, dtype, shape and element count (unless --summary), then totals by dtype. */
    /** A LoRA file's layout, what it adapts, its ranks and alphas (read as generate --lora reads it, so a bad file fails here too). */
    private void lora() {
        try (LoraAdapter adapter = LoraAdapter.load(path)) {
            Map<String, Integer> perComponent = new TreeMap<>();
            var ranks = new TreeSet<Long>();
            var alphas = new TreeSet<Double>();
            for (LoraLayer layer : adapter.layers()) {
                perComponent.merge(layer.component(), 1, Integer::sum);
                ranks.add(layer.rank());
                alphas.add(layer.alpha());
            }
            out.printf("%s: a LoRA adapter (%s layout): %d layers (%s), rank %s, alpha %s%n", path, adapter.format(), adapter.layers().size(),
                    perComponent.entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).collect(java.util.stream.Collectors.joining(", ")),
                    join(ranks), adapter.format().equals("kohya") ? join(alphas) : "in the up matrices (diffusers folds alpha / rank into them)");
        }
    }

    /** An original-layout checkpoint: its models' tensor counts, EMA weights, and the architecture its keys tell (or why not). */
    private void singleFile(SafeTensors file) {
        Map<String, Long> counts = new java.util.LinkedHashMap<>();
        for (String[] part : new String[][] {{"UNet", LdmKeys.UNET}, {"VAE", LdmKeys.VAE}, {"text encoder", LdmKeys.TEXT_ENCODER},
                {"OpenCLIP text encoder", LdmKeys.OPEN_CLIP}, {"SDXL CLIP text encoder", LdmKeys.SDXL_TEXT_ENCODER},
                {"SDXL OpenCLIP text encoder", LdmKeys.SDXL_OPEN_CLIP}, {"EMA UNet", "model_ema."}}) {
            long n = file.keys().stream().filter(k -> k.startsWith(part[1])).count();
            if (n > 0 || !part[0].contains("text encoder")) counts.put(part[0], n);
        }
        String architecture;
        try {
            SingleFileCheckpoint.detect(file);
            architecture = SingleFileCheckpoint.isXl(file) ? "SDXL base (runs without --config)" : counts.containsKey("OpenCLIP text encoder") ? "SD 2.x (runs without --config; v-prediction assumed, --prediction-type epsilon for a 512-pixel base model)"
                    : "SD 1.x (runs without --config)";
        } catch (IllegalArgumentException e) {
            architecture = e.getMessage().substring(e.getMessage().indexOf(": ") + 2);
        }
        out.printf("%s: an original-layout (LDM) Stable Diffusion checkpoint: %s tensors; %s%n", path,
                counts.entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).collect(java.util.stream.Collectors.joining(", ")), architecture);
    }

    private static String join(java.util.Collection<?> values) {
        return values.stream().map(v -> v instanceof Double d && d == Math.rint(d) ? String.valueOf(d.longValue()) : String.valueOf(v))
                .collect(java.util.stream.Collectors.joining(", "));
    }

    private void safetensors(SafeTensors file, String label) {
        long total = 0;
        var dtypes = new TreeSet<String>();
        int width = file.keys().stream().mapToInt(String::length).max().orElse(4);
        for (String key : file.keys()) {
            SafeTensors.Entry e = file.entry(key);
            long n = DiffusersDirectory.numel(e.shape());
            total += n;
            dtypes.add(e.dtype().name().toLowerCase());
        }
        out.printf("%s: %d tensors, %,d parameters (%s)%n", label, file.keys().size(), total, String.join(", ", dtypes));
        if (!file.metadata().isEmpty()) out.println("  metadata: " + file.metadata());
        if (summary) return;
        for (String key : file.keys()) {
            SafeTensors.Entry e = file.entry(key);
            out.printf("  %-" + width + "s  %-8s %-20s %,d%n", key, e.dtype().name().toLowerCase(), Arrays.toString(e.shape()), DiffusersDirectory.numel(e.shape()));
        }
    }
}
