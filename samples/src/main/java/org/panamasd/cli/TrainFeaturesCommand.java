package org.panamasd.cli;

import java.nio.file.Path;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.models.dinov2.Dinov2Classifier;
import org.panamasd.training.features.ClassifierTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains the small ViT (DINOv2 architecture, patch 4, width 96, depth 6) that ADD freezes as its feature
 * network and {@code evaluate} uses as classifier and feature extractor; reports its test-split accuracy:
 * {@code train-features --out DIR [--steps 900] [--batch 64] [--lr 2e-3] [--seed 0]}.
 */
@Command(name = "train-features", description = "The small ViT (DINOv2 architecture) that ADD freezes and evaluate scores with; reports its test accuracy.")
final class TrainFeaturesCommand implements Runnable {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where feature-net/ and the loss curve go.")
    Path out;
    @Option(names = "--steps", defaultValue = "900", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "2e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    static final String CONFIG = """
            {"architectures": ["Dinov2Model"], "model_type": "dinov2", "hidden_size": 96, "num_hidden_layers": 6,
             "num_attention_heads": 3, "mlp_ratio": 2, "image_size": 32, "patch_size": 4, "num_channels": 3, "hidden_act": "gelu",
             "layer_norm_eps": 1e-06, "layerscale_value": 1.0, "drop_path_rate": 0.0, "qkv_bias": true, "use_swiglu_ffn": false,
             "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02, "transformers_version": "4.38.2"}""";

    @Override
    public void run() {
        DiffusersConfig config = DiffusersConfig.parse(CONFIG);
        LearningRateSchedule schedule = new LearningRateSchedule(lr, Math.min(100, steps / 10), steps, 0.02);
        try (Dinov2Classifier network = Dinov2Classifier.initialize(config, FashionMnist.CLASSES.length, seed);
             ClassifierTrainer trainer = new ClassifierTrainer(images -> network.logits(network.forward(images)), ClassifierTrainer.parametersOf(network), schedule)) {
            double accuracy = ClassifierRun.train("train-features", trainer, images -> network.logits(network.forward(images)), steps, batch, seed,
                    out.resolve("feature-net-loss.png"));
            Path dir = out.resolve("feature-net");
            Map<String, String> meta = Map.of("format", "pt", "written_by", "panama-sd train-features", "test_accuracy", String.format("%.4f", accuracy));
            ComponentWriter.write(dir, "config.json", config.toJson(), "model.safetensors", network.backbone().parameters(), DType.FLOAT16, meta);
            try (Scope s = Scope.open()) {
                org.panamasd.io.SafeTensorsWriter.write(halves(network.headParameters()), meta, dir.resolve("classifier.safetensors"));
            }
            System.out.printf("saved %s: test accuracy %.1f %% on 10,000 held-out images%n", dir.toAbsolutePath(), 100 * accuracy);
        }
    }

    private static Map<String, Tensor> halves(Map<String, Tensor> weights) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        weights.forEach((k, v) -> out.put(k, v.detach().to(DType.FLOAT16)));
        return out;
    }
}
