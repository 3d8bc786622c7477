package org.panamasd.models.dinov2;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.nn.Linear;
import org.panamasd.nn.RandomWeights;
import org.panamasd.nn.StateDict;

/**
 * A DINOv2 backbone with a linear classifier on [CLS, mean of the patch tokens] (transformers'
 * Dinov2ForImageClassification head). It is the frozen feature network of ADD's discriminator and of the
 * {@code evaluate} metrics. On disk: the backbone as a transformers Dinov2Model directory (config.json,
 * model.safetensors: real DINOv2 weights load unchanged) plus {@code classifier.safetensors}.
 */
public final class Dinov2Classifier implements AutoCloseable {
    private final Dinov2Model backbone;
    private final AutoCloseable headStore;
    private final Linear classifier;

    private Dinov2Classifier(Dinov2Model backbone, AutoCloseable headStore, Linear classifier) {
        this.backbone = backbone;
        this.headStore = headStore;
        this.classifier = classifier;
    }

    public static Dinov2Classifier initialize(DiffusersConfig config, int labels, long seed) {
        return withNewHead(Dinov2Model.initialize(config, seed), labels, seed + 1);
    }

    /** A fresh linear head on a backbone trained elsewhere (DINO's linear probe); the classifier owns the backbone from here. */
    public static Dinov2Classifier withNewHead(Dinov2Model backbone, int labels, long seed) {
        RandomWeights head = new RandomWeights(seed);
        return new Dinov2Classifier(backbone, head, new Linear(head, "classifier", 2L * backbone.config().hiddenSize(), labels, true));
    }

    public static Dinov2Classifier load(Path directory) {
        Path headFile = directory.resolve("classifier.safetensors");
        if (!Files.isRegularFile(headFile)) throw new IllegalArgumentException(directory + " has no classifier.safetensors");
        Dinov2Model backbone = Dinov2Model.load(directory);
        StateDict head = StateDict.open(headFile);
        try {
            long[] shape = head.shape("classifier.weight");
            Linear linear = new Linear(head, "classifier", shape[1], shape[0], true);
            head.checkAllUsed();
            return new Dinov2Classifier(backbone, head, linear);
        } catch (RuntimeException e) {
            head.close();
            backbone.close();
            throw e;
        }
    }

    public Dinov2Model backbone() {
        return backbone;
    }

    /** Stops gradients into every parameter (inputs may still require them). */
    public Dinov2Classifier freeze() {
        backbone.freeze();
        classifier.weight.requiresGrad(false);
        classifier.bias.requiresGrad(false);
        return this;
    }

    /** The classifier's input: [CLS, mean patch token] of the normalised last hidden state, (B, 2 d). */
    public Tensor features(Dinov2Model.Output out) {
        Tensor last = out.lastHiddenState();
        Tensor patches = last.narrow(1, 1, last.size(1) - 1).mean(new long[] {1}, false);
        return Tensor.cat(1, out.pooled(), patches);
    }

    public Tensor logits(Dinov2Model.Output out) {
        return classify(features(out));
    }

    /** Class logits from {@link #features} already computed. */
    public Tensor classify(Tensor features) {
        return classifier.forward(features);
    }

    /** Images (B, 3, H, W) in [-1, 1]: the network's input range. */
    public Dinov2Model.Output forward(Tensor images) {
        return backbone.forward(images);
    }

    public Map<String, Tensor> headParameters() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("classifier.weight", classifier.weight);
        m.put("classifier.bias", classifier.bias);
        return m;
    }

    @Override
    public void close() {
        try {
            headStore.close();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        } finally {
            backbone.close();
        }
    }
}
