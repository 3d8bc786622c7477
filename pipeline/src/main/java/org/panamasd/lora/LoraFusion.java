package org.panamasd.lora;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * Fuses LoRA adapters into a model's weights, each at its scale: W <- W + sum_a scale_a (alpha_a / rank_a) up_a
 * down_a for every adapted weight (biases unchanged; one scale for the UNet and the text encoders, as A1111's
 * {@code <lora:name:s>} and diffusers' {@code fuse_lora(lora_scale=s)}). Every layer is resolved and checked
 * before any weight changes. The weights are changed in place: a weight mapped from its file is mapped
 * copy-on-write, so only the adapted weights' pages become private copies and the file is never written. The
 * original values of the adapted weights are kept, and {@link FusedLora#close()} puts them back exactly.
 * Not while the model is running: fuse before a generation, unfuse after it.
 */
public final class LoraFusion {
    private LoraFusion() {}

    /** An adapter and the scale it is fused at (0 leaves the model as it is). */
    public record Scaled(LoraAdapter adapter, double scale) {}

    /**
     * @param components the model's weights by component ({@code unet}, {@code text_encoder}, {@code text_encoder_2}),
     *                   each by state-dict key
     */
    public static FusedLora fuse(Map<String, Map<String, Tensor>> components, List<Scaled> adapters) {
        Map<Tensor, Tensor> deltas = new IdentityHashMap<>();
        Scope kept = Scope.detached();
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            Map<String, Map<String, String>> kohyaNames = new HashMap<>();
            for (Scaled scaled : adapters) {
                if (scaled.scale() == 0) continue;
                for (LoraLayer layer : scaled.adapter().layers()) {
                    String key = resolve(components, kohyaNames, scaled.adapter(), layer) + ".weight";
                    Tensor weight = components(components, scaled.adapter(), layer).get(key);
                    if (!weight.dtype().isFloatingPoint())
                        throw new IllegalArgumentException(scaled.adapter().file() + ": a LoRA fuses into floating-point weights, but the model keeps " + layer.component()
                                + " '" + key + "' as " + weight.dtype() + " (--weights int8): load the model with dense weights to use this adapter");
                    Tensor delta = checkedDelta(scaled.adapter(), layer, weight).mul(scaled.scale());
                    deltas.merge(weight, delta, Tensor::add);
                }
            }
            Map<Tensor, Tensor> originals = new IdentityHashMap<>();
            deltas.forEach((weight, delta) -> {
                originals.put(weight, weight.copy().moveTo(kept));
                weight.copyFrom(weight.to(DType.FLOAT32).add(delta).to(weight.dtype()));
            });
            return new FusedLora(originals, kept);
        } catch (RuntimeException e) {
            kept.close();
            throw e;
        }
    }

    /** The module path a layer adapts in its component (a kohya name matched against the component's module names). */
    public static String module(Map<String, Map<String, Tensor>> components, LoraAdapter adapter, LoraLayer layer) {
        return resolve(components, new HashMap<>(), adapter, layer);
    }

    private static Map<String, Tensor> components(Map<String, Map<String, Tensor>> components, LoraAdapter adapter, LoraLayer layer) {
        Map<String, Tensor> weights = components.get(layer.component());
        if (weights == null)
            throw new IllegalArgumentException(adapter.file() + ": key '" + layer.fileKey() + "' adapts the " + layer.component() + ", which this model does not have "
                    + "(it has " + String.join(", ", components.keySet()) + ")");
        return weights;
    }

    private static String resolve(Map<String, Map<String, Tensor>> components, Map<String, Map<String, String>> kohyaNames, LoraAdapter adapter,
                                  LoraLayer layer) {
        Map<String, Tensor> weights = components(components, adapter, layer);
        String module = layer.module();
        if (layer.kohyaName()) {
            // kohya writes every '.' of the module path as '_', and module names have '_' of their own: match against the model's
            Map<String, String> names = kohyaNames.computeIfAbsent(layer.component(), c -> {
                Map<String, String> byKohya = new HashMap<>();
                for (String key : weights.keySet())
                    if (key.endsWith(".weight")) {
                        String path = key.substring(0, key.length() - ".weight".length());
                        byKohya.merge(path.replace('.', '_'), path, (a, b) -> a + " | " + b);
                    }
                return byKohya;
            });
            module = names.get(layer.module());
            if (module == null)
                throw new IllegalArgumentException(adapter.file() + ": key '" + layer.fileKey() + "' names no module of the " + layer.component());
            if (module.contains(" | "))
                throw new IllegalArgumentException(adapter.file() + ": key '" + layer.fileKey() + "' could be any of the " + layer.component() + "'s modules " + module);
        } else if (!weights.containsKey(module + ".weight")) {
            throw new IllegalArgumentException(adapter.file() + ": key '" + layer.fileKey() + "' adapts " + module + ", which the " + layer.component() + " does not have");
        }
        return module;
    }

    /** The layer's delta in the weight's shape, or an error naming the file, the key and both shapes. */
    private static Tensor checkedDelta(LoraAdapter adapter, LoraLayer layer, Tensor weight) {
        long out = layer.up().size(0), in = layer.down().numel() / layer.rank();
        long[] w = weight.shape();
        boolean fits = w.length >= 2 && w[0] == out && weight.numel() / w[0] == in && (layer.up().numel() == out * layer.rank());
        if (!fits)
            throw new IllegalArgumentException(adapter.file() + ": key '" + layer.fileKey() + "': up " + java.util.Arrays.toString(layer.up().shape()) + " x down "
                    + java.util.Arrays.toString(layer.down().shape()) + " does not fit the weight " + java.util.Arrays.toString(w)
                    + " (an adapter for another model, or of another rank than its matrices say)");
        return layer.delta(w);
    }

    /** The fused adapters; {@link #close()} restores the adapted weights' original values. */
    public static final class FusedLora implements AutoCloseable {
        private final Map<Tensor, Tensor> originals;
        private final Scope kept;
        private boolean closed;

        private FusedLora(Map<Tensor, Tensor> originals, Scope kept) {
            this.originals = originals;
            this.kept = kept;
        }

        /** How many weights the adapters changed. */
        public int adaptedWeights() {
            return originals.size();
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            try (var frozen = Autograd.noGrad()) {
                originals.forEach(Tensor::copyFrom);
            } finally {
                kept.close();
            }
        }
    }
}
