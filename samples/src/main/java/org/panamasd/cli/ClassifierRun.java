package org.panamasd.cli;

import java.nio.file.Path;
import java.util.function.Function;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.training.LossCheck;
import org.panamasd.training.LossCurve;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.features.ClassifierTrainer;

/** The training loop of the Fashion-MNIST classifiers (train-features, train-evaluator): steps, progress, loss curve, test accuracy. */
final class ClassifierRun {
    private ClassifierRun() {}

    /** Trains for {@code steps} batches of the training split and returns the accuracy on the 10,000 test images. */
    static double train(String command, ClassifierTrainer trainer, Function<Tensor, Tensor> logits, int steps, int batch, long seed, Path curveFile) {
        FashionMnist train = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true), test = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false);
        LossCurve curve = new LossCurve();
        TrainingProgress progress = new TrainingProgress(command, 0, steps, 50);
        for (int step = 1; step <= steps; step++) {
            double loss;
            try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(seed, step)) {
                int[] idx = train.randomBatch(g, batch);
                loss = LossCheck.finite("cross-entropy", trainer.step(train.paddedRgb(idx), train.labels(idx), g), step);
            }
            curve.add("cross-entropy", step, loss);
            progress.update(step, String.format("loss %.3f", loss));
        }
        curve.write(curveFile, command);
        try (Scope s = Scope.open()) {
            int[] all = new int[test.size()];
            for (int i = 0; i < all.length; i++) all[i] = i;
            return ClassifierTrainer.accuracy(logits, test.paddedRgb(all), test.labels(all));
        }
    }
}
