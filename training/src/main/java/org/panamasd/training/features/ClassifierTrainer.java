package org.panamasd.training.features;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.dinov2.Dinov2Classifier;
import org.panamasd.optim.Optimizer;
import org.panamasd.training.LearningRateSchedule;

/**
 * Trains an image classifier (cross-entropy, AdamW, random translations): the small ViT in the DINOv2
 * architecture that serves frozen as ADD's feature network when no pretrained DINOv2 is at hand, and the
 * convolutional evaluator that scores samples apart from it.
 */
public final class ClassifierTrainer implements AutoCloseable {
    private final Function<Tensor, Tensor> logits;
    private final Optimizer optimizer;
    private final LearningRateSchedule learningRate;
    private long step;

    /**
     * @param logits     images (B, 3, H, W) in [-1, 1] -> class logits, with a graph into {@code parameters}
     * @param parameters everything the classifier trains
     */
    public ClassifierTrainer(Function<Tensor, Tensor> logits, List<Tensor> parameters, LearningRateSchedule learningRate) {
        this.logits = logits;
        this.learningRate = learningRate;
        this.optimizer = Optimizer.adamW(List.copyOf(parameters), learningRate.at(1), 0.9, 0.999, 1e-8, 0.05, false);
    }

    /** A DINOv2 classifier's backbone and head parameters, in that order. */
    public static List<Tensor> parametersOf(Dinov2Classifier network) {
        List<Tensor> all = new ArrayList<>(network.backbone().parameters().values());
        all.addAll(network.headParameters().values());
        return all;
    }

    /** One step on images (B, 3, H, W) in [-1, 1] with labels (B,); returns the loss before the step. */
    public double step(Tensor images, Tensor labels, Generator generator) {
        step++;
        try (Scope s = Scope.open()) {
            Tensor loss = crossEntropy(logits.apply(translate(images, 2, generator)), labels);
            optimizer.setLearningRate(learningRate.at(step));
            optimizer.zeroGrad();
            loss.backward();
            optimizer.step();
            return loss.item();
        }
    }

    /** Mean negative log-likelihood of the labels under softmax(logits). */
    public static Tensor crossEntropy(Tensor logits, Tensor labels) {
        return logits.logSoftmax(1).gather(1, labels.unsqueeze(1)).mean().neg();
    }

    /** The batch shifted by up to {@code max} pixels in each direction (one shift per batch), background -1 filling in. */
    static Tensor translate(Tensor images, int max, Generator generator) {
        long[] shift = Tensor.randint(0, 2L * max + 1, generator, 2).toLongArray();
        Tensor padded = Functional.pad(images, new long[] {max, max, max, max}, Functional.PadMode.CONSTANT, -1);
        return padded.narrow(2, shift[0], images.size(2)).narrow(3, shift[1], images.size(3));
    }

    /** Top-1 accuracy on (images, labels), in batches, without gradients. */
    public static double accuracy(Function<Tensor, Tensor> logits, Tensor images, Tensor labels) {
        try (Scope s = Scope.open(); var inference = org.panamasd.Autograd.inferenceMode()) {
            long n = images.size(0), correct = 0;
            for (long from = 0; from < n; from += 500) {
                long len = Math.min(500, n - from);
                try (Scope b = Scope.open()) {
                    Tensor predicted = logits.apply(images.narrow(0, from, len)).argmax(1, false);
                    correct += (long) predicted.eq(labels.narrow(0, from, len)).to(org.panamasd.DType.FLOAT32).sum().item();
                }
            }
            return (double) correct / n;
        }
    }

    @Override
    public void close() {
        optimizer.close();
    }
}
