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
import org.panamasd.models.dinov2.Dinov2Classifier;
import org.panamasd.models.dinov2.Dinov2Model;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.LossCheck;
import org.panamasd.training.LossCurve;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.features.ClassifierTrainer;
import org.panamasd.training.features.DinoTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains the small ViT (DINOv2 architecture, patch 4, width 96, depth 6) that ADD freezes as its feature
 * network and {@code evaluate} uses as classifier and feature extractor, and reports its test-split accuracy.
 * {@code --method supervised} trains backbone and classifier on the labels; {@code --method dino} trains the
 * backbone without labels (DINO, {@link DinoTrainer}), then a linear classifier on its frozen features (the
 * linear probe, whose accuracy is reported).
 */
@Command(name = "train-features", description = {"The small ViT (DINOv2 architecture) that ADD freezes and evaluate scores with; reports its test accuracy.",
        "--method dino trains it self-supervised, then a linear probe on its frozen features."})
final class TrainFeaturesCommand implements Runnable {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where feature-net/ and the loss curve go.")
    Path out;
    @Option(names = "--method", defaultValue = "supervised", paramLabel = "supervised|dino", description = "How the backbone learns (default: ${DEFAULT-VALUE}).")
    String method;
    @Option(names = "--steps", defaultValue = "900", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", description = "Peak learning rate (default: 2e-3 supervised, 5e-4 dino).")
    Double lr;
    @Option(names = "--probe-steps", defaultValue = "1500", description = "With --method dino: linear-probe steps (default: ${DEFAULT-VALUE}).")
    int probeSteps;
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
        switch (method) {
            case "supervised" -> supervised(config);
            case "dino" -> dino(config);
            default -> throw new IllegalArgumentException("unknown --method '" + method + "' (supervised or dino)");
        }
    }

    private void supervised(DiffusersConfig config) {
        LearningRateSchedule schedule = new LearningRateSchedule(lr != null ? lr : 2e-3, Math.min(100, steps / 10), steps, 0.02);
        try (Dinov2Classifier network = Dinov2Classifier.initialize(config, FashionMnist.CLASSES.length, seed);
             ClassifierTrainer trainer = new ClassifierTrainer(images -> network.logits(network.forward(images)), ClassifierTrainer.parametersOf(network), schedule)) {
            double accuracy = ClassifierRun.train("train-features", trainer, images -> network.logits(network.forward(images)), steps, batch, seed,
                    out.resolve("feature-net-loss.png"));
            save(config, network, Map.of("method", "supervised", "test_accuracy", String.format("%.4f", accuracy)));
            System.out.printf("saved %s: test accuracy %.1f %% on 10,000 held-out images%n", out.resolve("feature-net").toAbsolutePath(), 100 * accuracy);
        }
    }

    /** DINO on the training split's images (no labels), then a linear probe on the teacher backbone's frozen features. */
    private void dino(DiffusersConfig config) {
        FashionMnist train = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true);
        LearningRateSchedule schedule = new LearningRateSchedule(lr != null ? lr : 5e-4, Math.min(300, steps / 10), steps, 0.01);
        Dinov2Model teacherBackbone = Dinov2Model.initialize(config, seed + 1);
        try (Dinov2Model student = Dinov2Model.initialize(config, seed);
             DinoTrainer trainer = new DinoTrainer(student, teacherBackbone, DinoTrainer.Settings.defaults(), schedule, seed + 2)) {
            LossCurve curve = new LossCurve();
            TrainingProgress progress = new TrainingProgress("train-features dino", 0, steps, 50);
            for (int step = 1; step <= steps; step++) {
                DinoTrainer.Step s;
                try (Scope scope = Scope.open(); Generator g = StepSeeds.forStep(seed, step)) {
                    s = trainer.step(train.paddedRgb(train.randomBatch(g, batch)), g);
                }
                LossCheck.finite("dino", s.loss(), step);
                curve.add("DINO loss", step, s.loss());
                curve.add("teacher entropy (nats)", step, s.teacherEntropy());
                progress.update(step, String.format("loss %.3f  teacher entropy %.2f", s.loss(), s.teacherEntropy()));
            }
            curve.write(out.resolve("feature-net-dino-loss.png"), "train-features --method dino");
        } catch (RuntimeException e) {
            teacherBackbone.close();
            throw e;
        }
        // the linear probe: the backbone frozen, only [CLS, mean patch] -> classes trains
        LearningRateSchedule probe = new LearningRateSchedule(1e-3, Math.min(100, probeSteps / 10), probeSteps, 0.02);
        try (Dinov2Classifier network = Dinov2Classifier.withNewHead(teacherBackbone.freeze(), FashionMnist.CLASSES.length, seed + 3);
             ClassifierTrainer trainer = new ClassifierTrainer(images -> network.logits(network.forward(images)),
                     java.util.List.copyOf(network.headParameters().values()), probe)) {
            double accuracy = ClassifierRun.train("train-features linear probe", trainer, images -> network.logits(network.forward(images)), probeSteps,
                    batch, seed + 4, out.resolve("feature-net-probe-loss.png"));
            save(config, network, Map.of("method", "dino", "linear_probe_accuracy", String.format("%.4f", accuracy)));
            System.out.printf("saved %s: DINO backbone, linear-probe test accuracy %.1f %% on 10,000 held-out images%n",
                    out.resolve("feature-net").toAbsolutePath(), 100 * accuracy);
        }
    }

    private void save(DiffusersConfig config, Dinov2Classifier network, Map<String, String> facts) {
        Path dir = out.resolve("feature-net");
        Map<String, String> meta = new java.util.LinkedHashMap<>(Map.of("format", "pt", "written_by", "panama-sd train-features"));
        meta.putAll(facts);
        ComponentWriter.write(dir, "config.json", config.toJson(), "model.safetensors", network.backbone().parameters(), DType.FLOAT16, meta);
        try (Scope s = Scope.open()) {
            org.panamasd.io.SafeTensorsWriter.write(halves(network.headParameters()), meta, dir.resolve("classifier.safetensors"));
        }
    }

    private static Map<String, Tensor> halves(Map<String, Tensor> weights) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        weights.forEach((k, v) -> out.put(k, v.detach().to(DType.FLOAT16)));
        return out;
    }
}
