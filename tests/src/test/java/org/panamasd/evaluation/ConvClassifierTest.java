package org.panamasd.evaluation;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.support.NativeTest;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.features.ClassifierTrainer;

/** The evaluator: it learns, and it loads back from its directory as written. */
class ConvClassifierTest extends NativeTest {
    private static final String CONFIG = """
            {"model_type": "panama-sd-conv-classifier", "num_channels": 3, "hidden_sizes": [8, 16], "norm_num_groups": 4, "num_labels": 2}""";

    /** Class 0: vertical stripes, class 1: horizontal ones, random phase and contrast. */
    private static Tensor stripes(Generator g, long[] labels) {
        int n = labels.length;
        Tensor x = Tensor.arange(0, 16, 1, DType.FLOAT32).reshape(1, 1, 1, 16).add(Tensor.rand(g, n, 1, 1, 1).mul(4)).mul(1.5).sin();
        Tensor vertical = x.expand(n, 3, 16, 16), horizontal = vertical.transpose(2, 3);
        Tensor isHorizontal = Tensor.of(labels, n).to(DType.FLOAT32).reshape(n, 1, 1, 1);
        return vertical.mul(isHorizontal.rsub(1)).add(horizontal.mul(isHorizontal)).mul(Tensor.rand(g, n, 1, 1, 1).add(0.5)).clamp(-1, 1);
    }

    @Test
    void learnsAndLoadsBackTheSameNetwork(@TempDir Path dir) {
        long[] labels = new long[32];
        for (int i = 0; i < labels.length; i++) labels[i] = i % 2;
        try (Scope scope = Scope.open(); Generator g = new Generator(1);
             ConvClassifier network = ConvClassifier.initialize(DiffusersConfig.parse(CONFIG), 3);
             ClassifierTrainer trainer = new ClassifierTrainer(network::logits, List.copyOf(network.parameters().values()), new LearningRateSchedule(3e-3, 5, 60, 0.1))) {
            Tensor test = stripes(g, labels), testLabels = Tensor.of(labels, labels.length);
            double before = ClassifierTrainer.accuracy(network::logits, test, testLabels);
            for (int step = 0; step < 60; step++)
                try (Scope s = Scope.open()) {
                    trainer.step(stripes(g, labels), Tensor.of(labels, labels.length), g);
                }
            double after = ClassifierTrainer.accuracy(network::logits, test, testLabels);
            assertTrue(after >= 0.9, "accuracy " + before + " -> " + after);

            ComponentWriter.write(dir, "config.json", DiffusersConfig.parse(CONFIG).toJson(), "model.safetensors", network.parameters(), DType.FLOAT32, Map.of());
            try (ConvClassifier loaded = ConvClassifier.load(dir)) {
                assertArrayEquals(network.features(test.add(1).div(2)).toFloatArray(), loaded.features(test.add(1).div(2)).toFloatArray(), 1e-5f);
            }
        }
    }

    @Test
    void aDirectoryWithoutWeightsIsNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), CONFIG);
        var e = assertThrows(IllegalArgumentException.class, () -> ConvClassifier.load(dir));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
    }
}
