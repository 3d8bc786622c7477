package org.panamasd.cli;

import java.nio.file.Path;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.evaluation.ConvClassifier;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.features.ClassifierTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains the evaluator {@code evaluate} scores with: a convolutional classifier ({@link ConvClassifier}), another
 * architecture than ADD's ViT feature network and its own seed, so a student is never scored through the network
 * its discriminator looked through.
 */
@Command(name = "train-evaluator", description = {"The convolutional classifier evaluate scores with, trained apart from ADD's feature network.",
        "Reports its test-split accuracy; writes DIR/evaluator (config.json, model.safetensors)."})
final class TrainEvaluatorCommand implements Runnable {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where evaluator/ and the loss curve go.")
    Path out;
    @Option(names = "--steps", defaultValue = "1200", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "3e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--seed", defaultValue = "12", description = "Seed (default: ${DEFAULT-VALUE}; ADD's feature network uses 2).")
    long seed;

    static final String CONFIG = """
            {"model_type": "panama-sd-conv-classifier", "num_channels": 3, "hidden_sizes": [32, 64, 128], "norm_num_groups": 8, "num_labels": 10,
             "image_size": 32}""";

    @Override
    public void run() {
        DiffusersConfig config = DiffusersConfig.parse(CONFIG);
        LearningRateSchedule schedule = new LearningRateSchedule(lr, Math.min(100, steps / 10), steps, 0.02);
        try (ConvClassifier network = ConvClassifier.initialize(config, seed);
             ClassifierTrainer trainer = new ClassifierTrainer(network::logits, java.util.List.copyOf(network.parameters().values()), schedule)) {
            double accuracy = ClassifierRun.train("train-evaluator", trainer, network::logits, steps, batch, seed, out.resolve("evaluator-loss.png"));
            Path dir = out.resolve("evaluator");
            Map<String, String> meta = Map.of("format", "pt", "written_by", "panama-sd train-evaluator", "test_accuracy", String.format("%.4f", accuracy));
            ComponentWriter.write(dir, "config.json", config.toJson(), "model.safetensors", network.parameters(), DType.FLOAT16, meta);
            System.out.printf("saved %s: test accuracy %.1f %% on 10,000 held-out images%n", dir.toAbsolutePath(), 100 * accuracy);
        }
    }
}
