package org.panamasd.training.features;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.dinov2.Dinov2Classifier;
import org.panamasd.optim.Optimizer;
import org.panamasd.training.LearningRateSchedule;

/**
 * Trains a small ViT in the DINOv2 architecture as an image classifier (cross-entropy, AdamW, random
 * translations), to serve frozen as ADD's feature network and as the evaluator's classifier and feature
 * extractor when no pretrained DINOv2 is at hand.
 */
public final class FeatureNetworkTrainer implements AutoCloseable {
    private final Dinov2Classifier network;
    private final Optimizer optimizer;
    private final LearningRateSchedule learningRate;
    private final List<Tensor> parameters = new ArrayList<>();
    private long step;

    public FeatureNetworkTrainer(DiffusersConfig config, int labels, LearningRateSchedule learningRate, long seed) {
        this.network = Dinov2Classifier.initialize(config, labels, seed);
        parameters.addAll(network.backbone().parameters().values());
        parameters.addAll(network.headParameters().values());
        this.learningRate = learningRate;
        this.optimizer = Optimizer.adamW(parameters, learningRate.at(1), 0.9, 0.999, 1e-8, 0.05, false);
    }

    public Dinov2Classifier network() {
        return network;
    }

    /** One step on images (B, 3, H, W) in [-1, 1] with labels (B,); returns the loss before the step. */
    public double step(Tensor images, Tensor labels, Generator generator) {
        step++;
        try (Scope s = Scope.open()) {
            Tensor logits = network.logits(network.forward(translate(images, 2, generator)));
            Tensor loss = crossEntropy(logits, labels);
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
    public static double accuracy(Dinov2Classifier network, Tensor images, Tensor labels) {
        try (Scope s = Scope.open(); var inference = org.panamasd.Autograd.inferenceMode()) {
            long n = images.size(0), correct = 0;
            for (long from = 0; from < n; from += 500) {
                long len = Math.min(500, n - from);
                try (Scope b = Scope.open()) {
                    Tensor predicted = network.logits(network.forward(images.narrow(0, from, len))).argmax(1, false);
                    correct += (long) predicted.eq(labels.narrow(0, from, len)).to(org.panamasd.DType.FLOAT32).sum().item();
                }
            }
            return (double) correct / n;
        }
    }

    public Map<String, Tensor> backboneParameters() {
        return network.backbone().parameters();
    }

    @Override
    public void close() {
        optimizer.close();
        network.close();
    }
}
