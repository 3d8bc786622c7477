package org.panamasd.training.lora;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.lora.LoraAdapter;
import org.panamasd.lora.LoraFusion;
import org.panamasd.lora.LoraLayer;
import org.panamasd.training.TrainedParameters;

/**
 * A LoRA being trained on frozen models (Hu et al. 2021): for every adapted projection W (out, in) of rank r,
 * down (r, in) drawn from N(0, 1/r) and up (out, r) zero, so training starts at the base model exactly, as
 * diffusers' {@code LoRALinearLayer}; alpha = r, as diffusers' LoRA training scripts set it, so the factor
 * alpha / r is 1.
 *
 * <p>The adapter reaches the model through the model's own weights rather than through a second branch in
 * every layer: before each forward pass the adapted weights become W0 + up down ({@link #beforeForward()}),
 * exactly as {@link LoraFusion} fuses a file's adapter (one formula, {@link LoraLayer#delta}), and after backward
 * the weights' gradient G is carried to the matrices by the chain rule, d/d up = G down^T and d/d down = up^T G
 * ({@link #afterBackward()}). The gradients are the branch formulation's; what it costs is dW of the adapted
 * projections, which full fine-tuning computes anyway. Every other weight of the adapted components is frozen.
 * The matrices' keys are the diffusers file's ({@code unet.<module>.lora.down.weight}, {@code text_encoder.<module>
 * .lora_linear_layer.down.weight}), so {@link #write} stores a map of them as {@code generate --lora} reads it.
 * {@link #close()} puts the base weights back.
 */
public final class TrainableLora implements TrainedParameters, AutoCloseable {
    /** The projections diffusers' LoRA training scripts adapt: attention q, k, v and output. */
    public static final Map<String, List<String>> DEFAULT_TARGETS = Map.of(
            "unet", List.of("to_q", "to_k", "to_v", "to_out.0"),
            "text_encoder", List.of("q_proj", "k_proj", "v_proj", "out_proj"),
            "text_encoder_2", List.of("q_proj", "k_proj", "v_proj", "out_proj"));

    private record Target(String component, String module, String downKey, String upKey, Tensor weight, Tensor original) {}

    private final List<Target> targets;
    private final Map<String, Tensor> parameters;
    private final int rank;
    private final Scope scope;

    private TrainableLora(List<Target> targets, Map<String, Tensor> parameters, int rank, Scope scope) {
        this.targets = targets;
        this.parameters = java.util.Collections.unmodifiableMap(parameters);
        this.rank = rank;
        this.scope = scope;
    }

    /**
     * Adapts every {@link #DEFAULT_TARGETS} projection of the given components ({@code unet}, {@code text_encoder},
     * {@code text_encoder_2}, each its parameters by state-dict key) with matrices of rank {@code rank}, and freezes
     * the components' other parameters.
     */
    public static TrainableLora attach(Map<String, Map<String, Tensor>> components, int rank, long seed) {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1, got " + rank);
        Scope scope = Scope.detached();
        try (Scope s = Scope.open(); Generator g = new Generator(seed); var frozen = Autograd.noGrad()) {
            List<Target> targets = new ArrayList<>();
            Map<String, Tensor> parameters = new LinkedHashMap<>();
            for (var component : components.entrySet()) {
                List<String> names = DEFAULT_TARGETS.get(component.getKey());
                if (names == null)
                    throw new IllegalArgumentException("no LoRA targets known for a component named '" + component.getKey() + "' (known: " + DEFAULT_TARGETS.keySet() + ")");
                for (var e : component.getValue().entrySet()) {
                    String key = e.getKey();
                    Tensor weight = e.getValue();
                    String module = key.endsWith(".weight") ? key.substring(0, key.length() - ".weight".length()) : null;
                    boolean target = module != null && weight.dim() == 2 && names.stream().anyMatch(n -> module.endsWith("." + n));
                    weight.requiresGrad(target);  // the base is frozen; a target's gradient is read and carried to its matrices
                    if (!target) continue;
                    long out = weight.size(0), in = weight.size(1);
                    if (rank > Math.min(out, in))
                        throw new IllegalArgumentException("LoRA rank " + rank + " exceeds " + component.getKey() + "." + module + " " + out + "x" + in);
                    String base = component.getKey() + "." + module + (component.getKey().equals("unet") ? ".lora" : ".lora_linear_layer");
                    Tensor down = Tensor.randn(g, rank, in).mul(1.0 / rank).moveTo(scope).requiresGrad(true);
                    Tensor up = Tensor.zeros(out, rank).moveTo(scope).requiresGrad(true);
                    parameters.put(base + ".down.weight", down);
                    parameters.put(base + ".up.weight", up);
                    targets.add(new Target(component.getKey(), module, base + ".down.weight", base + ".up.weight", weight,
                            weight.detach().copy().moveTo(scope)));
                }
            }
            if (targets.isEmpty())
                throw new IllegalArgumentException("no projection to adapt in " + components.keySet() + " (looked for " + DEFAULT_TARGETS + ")");
            return new TrainableLora(targets, parameters, rank, scope);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    /** The down and up matrices by their diffusers file key. */
    @Override
    public Map<String, Tensor> parameters() {
        return parameters;
    }

    public int rank() {
        return rank;
    }

    /** How many projections are adapted. */
    public int adaptedWeights() {
        return targets.size();
    }

    @Override
    public void beforeForward() {
        applyWeights(parameters);
    }

    /**
     * The adapted weights become W0 + up down of the given matrices (keyed as {@link #parameters()}: the trained
     * ones, or their EMA), computed as {@link LoraFusion} computes them, so the model equals the base with the
     * written adapter fused at scale 1.
     */
    public void applyWeights(Map<String, Tensor> matrices) {
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            for (Target t : targets)
                t.weight().copyFrom(t.original().to(DType.FLOAT32).add(layer(t, matrices).delta(t.weight().shape())).to(t.weight().dtype()));
        }
    }

    @Override
    public void afterBackward() {
        try (Scope s = Scope.open(); var tracked = Autograd.enableGrad()) {
            for (Target t : targets) {
                Tensor g = t.weight().grad();
                if (g == null) continue;  // no loss reached this projection
                layer(t, parameters).delta(t.weight().shape()).backward(g.to(DType.FLOAT32), false, false);
                t.weight().zeroGrad();
            }
        }
    }

    private LoraLayer layer(Target t, Map<String, Tensor> matrices) {
        Tensor down = matrices.get(t.downKey()), up = matrices.get(t.upKey());
        if (down == null || up == null) throw new IllegalArgumentException("LoRA matrices have no " + (down == null ? t.downKey() : t.upKey()));
        return new LoraLayer(t.component(), t.module(), false, t.downKey(), down, up, rank);
    }

    /**
     * Writes matrices keyed as {@link #parameters()} as a diffusers LoRA file ({@code save_lora_weights}'
     * layout: no alpha, the up matrices carrying alpha / rank, here 1), which {@link LoraAdapter} reads back.
     */
    public void write(Map<String, Tensor> matrices, Path file) {
        try (Scope s = Scope.open()) {  // the detached views die here, not in the caller's scope
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Target t : targets) {
                LoraLayer l = layer(t, matrices);
                tensors.put(t.downKey(), l.down().detach());
                tensors.put(t.upKey(), l.up().detach());
            }
            SafeTensorsWriter.write(tensors, Map.of("format", "pt", "lora_rank", Integer.toString(rank)), file);
        }
    }

    /** Puts the base weights back (the matrices are freed). */
    @Override
    public void close() {
        if (!scope.isOpen()) return;
        try (var frozen = Autograd.noGrad()) {
            for (Target t : targets) t.weight().copyFrom(t.original());
        } finally {
            scope.close();
        }
    }
}
