package org.panamasd.evaluation;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.panamasd.Functional;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.ParameterStore;
import org.panamasd.nn.RandomWeights;
import org.panamasd.nn.StateDict;

/**
 * The evaluator: a small convolutional classifier trained apart from ADD's feature network (another
 * architecture, its own seed), so that no student is scored by the network its discriminator looked through.
 * Stages of two 3x3 convs, each GroupNorm + SiLU, 2x average pooling between stages; the features are the last
 * stage's channels averaged over space; a linear classifier reads them. On disk: {@code config.json}
 * ({@code hidden_sizes}, {@code num_channels}, {@code num_labels}, {@code norm_num_groups}) and
 * {@code model.safetensors} with the keys {@code stages.N.conv1.weight}, ..., {@code classifier.weight}.
 */
public final class ConvClassifier implements FeatureClassifier, AutoCloseable {
    private final ParameterStore store;
    private final DiffusersConfig config;
    private final Conv2d[] conv1, conv2;
    private final GroupNorm[] norm1, norm2;
    private final Linear classifier;

    private ConvClassifier(ParameterStore store, DiffusersConfig config) {
        this.store = store;
        this.config = config;
        if (config.length("hidden_sizes") < 1) throw config.invalid("hidden_sizes", config.string("hidden_sizes", null), "a non-empty list of channel counts");
        int[] sizes = config.integers("hidden_sizes", config.length("hidden_sizes"), 0);
        int groups = config.integer("norm_num_groups", 8);
        conv1 = new Conv2d[sizes.length];
        conv2 = new Conv2d[sizes.length];
        norm1 = new GroupNorm[sizes.length];
        norm2 = new GroupNorm[sizes.length];
        long in = config.integer("num_channels", 3);
        for (int i = 0; i < sizes.length; i++) {
            String p = "stages." + i;
            conv1[i] = new Conv2d(store, p + ".conv1", in, sizes[i], 3, 1, 1);
            norm1[i] = new GroupNorm(store, p + ".norm1", groups, sizes[i], 1e-5);
            conv2[i] = new Conv2d(store, p + ".conv2", sizes[i], sizes[i], 3, 1, 1);
            norm2[i] = new GroupNorm(store, p + ".norm2", groups, sizes[i], 1e-5);
            in = sizes[i];
        }
        classifier = new Linear(store, "classifier", in, config.integer("num_labels", 10), true);
    }

    public static ConvClassifier initialize(DiffusersConfig config, long seed) {
        return new ConvClassifier(new RandomWeights(seed), config);
    }

    /** A directory with config.json and model.safetensors. */
    public static ConvClassifier load(Path directory) {
        Path weights = directory.resolve("model.safetensors"), configFile = directory.resolve("config.json");
        for (Path p : new Path[] {configFile, weights})
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("evaluator " + directory + " has no " + p.getFileName());
        StateDict state = StateDict.open(weights);
        try {
            ConvClassifier network = new ConvClassifier(state, DiffusersConfig.read(configFile));
            state.checkAllUsed();
            return network;
        } catch (RuntimeException e) {
            state.close();
            throw e;
        }
    }

    public DiffusersConfig config() {
        return config;
    }

    /** Images (B, C, H, W) in [-1, 1] -> the features (B, last hidden size). */
    @Override
    public Tensor featuresOf(Tensor images) {
        Tensor x = images;
        for (int i = 0; i < conv1.length; i++) {
            if (i > 0) x = Functional.avgPool2d(x, 2, 2);
            x = norm1[i].forward(conv1[i].forward(x)).silu();
            x = norm2[i].forward(conv2[i].forward(x)).silu();
        }
        return x.mean(new long[] {2, 3}, false);
    }

    @Override
    public Tensor classify(Tensor features) {
        return classifier.forward(features);
    }

    /** Class logits of images in [-1, 1], with a graph when autograd records. */
    public Tensor logits(Tensor images) {
        return classify(featuresOf(images));
    }

    public Map<String, Tensor> parameters() {
        return store.parameters();
    }

    /** Stops gradients into every parameter. */
    public ConvClassifier freeze() {
        for (Tensor p : parameters().values()) p.requiresGrad(false);
        return this;
    }

    @Override
    public void close() {
        store.close();
    }
}
