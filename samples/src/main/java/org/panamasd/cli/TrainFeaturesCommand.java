package org.panamasd.cli;

import java.nio.file.Path;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.LossCheck;
import org.panamasd.training.LossCurve;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.features.FeatureNetworkTrainer;
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
        FashionMnist train = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true), test = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false);
        DiffusersConfig config = DiffusersConfig.parse(CONFIG);
        LearningRateSchedule schedule = new LearningRateSchedule(lr, Math.min(100, steps / 10), steps, 0.02);
        try (FeatureNetworkTrainer trainer = new FeatureNetworkTrainer(config, FashionMnist.CLASSES.length, schedule, seed)) {
            LossCurve curve = new LossCurve();
            ProgressLine progress = new ProgressLine("train-features", 0, steps, 50);
            for (int step = 1; step <= steps; step++) {
                double loss;
                try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(seed, step)) {
                    int[] idx = train.randomBatch(g, batch);
                    loss = LossCheck.finite("cross-entropy", trainer.step(train.paddedRgb(idx), train.labels(idx), g), step);
                }
                curve.add("cross-entropy", step, loss);
                progress.update(step, batch, String.format("loss %.3f", loss));
            }
            double accuracy;
            try (Scope s = Scope.open()) {
                int[] all = new int[test.size()];
                for (int i = 0; i < all.length; i++) all[i] = i;
                accuracy = FeatureNetworkTrainer.accuracy(trainer.network(), test.paddedRgb(all), test.labels(all));
            }
            Path dir = out.resolve("feature-net");
            Map<String, String> meta = Map.of("format", "pt", "written_by", "panama-sd train-features", "test_accuracy", String.format("%.4f", accuracy));
            ComponentWriter.write(dir, "config.json", config.toJson(), "model.safetensors", trainer.backboneParameters(), DType.FLOAT16, meta);
            try (Scope s = Scope.open()) {
                org.panamasd.io.SafeTensorsWriter.write(halves(trainer.network().headParameters()), meta, dir.resolve("classifier.safetensors"));
            }
            curve.write(out.resolve("feature-net-loss.png"), "train-features");
            System.out.printf("saved %s: test accuracy %.1f %% on %d held-out images%n", dir.toAbsolutePath(), 100 * accuracy, test.size());
        }
    }

    private static Map<String, Tensor> halves(Map<String, Tensor> weights) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        weights.forEach((k, v) -> out.put(k, v.detach().to(DType.FLOAT16)));
        return out;
    }
}
