package org.panamasd.lora;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;

/**
 * A LoRA adapter file, in either layout users bring:
 * <ul>
 * <li>kohya-ss / A1111: {@code lora_unet_<module with . as _>.lora_down.weight}, {@code .lora_up.weight} and an
 *     optional 0-dim {@code .alpha} (missing: alpha = rank); {@code lora_te_} (or {@code lora_te1_}) for the text
 *     encoder, {@code lora_te2_} for SDXL's second;
 * <li>diffusers: {@code unet.<module>.lora.down.weight} / {@code .lora.up.weight}, {@code text_encoder.<module>
 *     .lora_linear_layer.down.weight} / {@code .up.weight} (save_lora_weights), or the PEFT names
 *     {@code .lora_A.weight} / {@code .lora_B.weight}; no alpha (the up matrices carry alpha / rank already).
 * </ul>
 * The tensors stay in the file's mapping until {@link #close()}. A file with keys of neither layout is refused
 * naming the first of them.
 */
public final class LoraAdapter implements AutoCloseable {
    private static final String[][] KOHYA_PREFIXES = {{"lora_unet_", "unet"}, {"lora_te1_", "text_encoder"}, {"lora_te2_", "text_encoder_2"},
            {"lora_te_", "text_encoder"}};
    private static final String[][] DIFFUSERS_PREFIXES = {{"unet.", "unet"}, {"text_encoder_2.", "text_encoder_2"}, {"text_encoder.", "text_encoder"}};
    private static final String[][] DIFFUSERS_SUFFIXES = {{".lora.down.weight", ".lora.up.weight"},
            {".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"}, {".lora_A.weight", ".lora_B.weight"}};

    private final Path file;
    private final String format;
    private final List<LoraLayer> layers;
    private final Scope scope;

    private LoraAdapter(Path file, String format, List<LoraLayer> layers, Scope scope) {
        this.file = file;
        this.format = format;
        this.layers = List.copyOf(layers);
        this.scope = scope;
    }

    public static LoraAdapter load(Path file) {
        String name = file.getFileName().toString().toLowerCase();
        if (name.endsWith(".ckpt") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".bin"))
            throw new IllegalArgumentException(file + ": a pickle file, which can run code when read; panama-sd reads LoRAs as .safetensors only "
                    + "(convert it with the safetensors package)");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such LoRA file");
        Scope scope = Scope.detached();
        try (Scope reading = Scope.open()) {
            SafeTensors st = SafeTensors.open(file);
            boolean kohya = st.keys().stream().anyMatch(k -> k.startsWith("lora_"));
            List<LoraLayer> layers = new ArrayList<>();
            for (LoraLayer l : kohya ? kohya(st) : diffusers(st))  // the adapter keeps its matrices; the rest of the reading goes
                layers.add(new LoraLayer(l.component(), l.module(), l.kohyaName(), l.fileKey(), l.down().moveTo(scope), l.up().moveTo(scope), l.alpha()));
            if (layers.isEmpty()) throw new IllegalArgumentException(file + ": no LoRA layers in it");
            return new LoraAdapter(file, kohya ? "kohya" : "diffusers", layers, scope);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    /** Whether a safetensors file's keys are a LoRA's (kohya's lora_ prefix, or a diffusers/PEFT down/up suffix). */
    public static boolean looksLikeOne(java.util.Collection<String> keys) {
        return !keys.isEmpty() && keys.stream().allMatch(k -> k.startsWith("lora_") || java.util.Arrays.stream(DIFFUSERS_SUFFIXES)
                .anyMatch(s -> k.endsWith(s[0]) || k.endsWith(s[1])));
    }

    private static List<LoraLayer> kohya(SafeTensors st) {
        Map<String, Map<String, String>> byBase = new TreeMap<>();
        for (String key : st.keys()) {
            String base, part;
            if (key.endsWith(".lora_down.weight")) part = "down";
            else if (key.endsWith(".lora_up.weight")) part = "up";
            else if (key.endsWith(".alpha")) part = "alpha";
            else throw unplaced(st, key, "not a kohya LoRA key (.lora_down.weight, .lora_up.weight or .alpha)");
            base = key.substring(0, key.lastIndexOf(part.equals("alpha") ? ".alpha" : ".lora_"));
            byBase.computeIfAbsent(base, b -> new LinkedHashMap<>()).put(part, key);
        }
        List<LoraLayer> layers = new ArrayList<>();
        byBase.forEach((base, parts) -> {
            String[] component = null;
            for (String[] p : KOHYA_PREFIXES) if (base.startsWith(p[0])) { component = p; break; }
            if (component == null) throw unplaced(st, base, "names no model it adapts (lora_unet_, lora_te_, lora_te1_ or lora_te2_)");
            Tensor down = part(st, parts, "down", base), up = part(st, parts, "up", base);
            double alpha = parts.containsKey("alpha") ? st.tensor(parts.get("alpha")).item() : down.size(0);
            layers.add(check(st, new LoraLayer(component[1], base.substring(component[0].length()), true, base, down, up, alpha)));
        });
        return layers;
    }

    private static List<LoraLayer> diffusers(SafeTensors st) {
        Map<String, String[]> byBase = new TreeMap<>();  // base -> {down key, up key}
        for (String key : st.keys()) {
            boolean placed = false;
            for (String[] s : DIFFUSERS_SUFFIXES)
                for (int i = 0; i < 2 && !placed; i++)
                    if (key.endsWith(s[i])) {
                        byBase.computeIfAbsent(key.substring(0, key.length() - s[i].length()), b -> new String[2])[i] = key;
                        placed = true;
                    }
            if (!placed) throw unplaced(st, key, "neither a kohya nor a diffusers LoRA key (.lora.down/.up.weight, .lora_linear_layer.down/.up.weight, .lora_A/.lora_B.weight)");
        }
        List<LoraLayer> layers = new ArrayList<>();
        byBase.forEach((base, keys) -> {
            if (keys[0] == null || keys[1] == null) throw unplaced(st, base, "has only one of its down and up matrices");
            String[] component = null;
            for (String[] p : DIFFUSERS_PREFIXES) if (base.startsWith(p[0])) { component = p; break; }
            if (component == null) throw unplaced(st, base, "names no model it adapts (unet., text_encoder. or text_encoder_2.)");
            Tensor down = st.tensor(keys[0]);
            layers.add(check(st, new LoraLayer(component[1], base.substring(component[0].length()), false, base, down, st.tensor(keys[1]), down.size(0))));
        });
        return layers;
    }

    private static Tensor part(SafeTensors st, Map<String, String> parts, String part, String base) {
        String key = parts.get(part);
        if (key == null) throw unplaced(st, base, "has no lora_" + part + ".weight");
        return st.tensor(key);
    }

    /** down (rank, in ...) and up (out, rank ...) of one rank. */
    private static LoraLayer check(SafeTensors st, LoraLayer layer) {
        if (layer.down().dim() < 2 || layer.up().dim() < 2 || layer.up().size(1) != layer.down().size(0))
            throw new IllegalArgumentException(st.path() + ": " + layer.fileKey() + ": down " + java.util.Arrays.toString(layer.down().shape()) + " and up "
                    + java.util.Arrays.toString(layer.up().shape()) + " are not of one rank (down is (rank, in), up is (out, rank))");
        if (!Double.isFinite(layer.alpha())) throw new IllegalArgumentException(st.path() + ": " + layer.fileKey() + ".alpha is " + layer.alpha());
        return layer;
    }

    private static IllegalArgumentException unplaced(SafeTensors st, String key, String why) {
        return new IllegalArgumentException(st.path() + ": key '" + key + "' " + why);
    }

    public Path file() {
        return file;
    }

    /** "kohya" or "diffusers". */
    public String format() {
        return format;
    }

    public List<LoraLayer> layers() {
        return layers;
    }

    @Override
    public void close() {
        scope.close();
    }
}
