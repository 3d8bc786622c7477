package org.panamasd.training.add;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.optim.Optimizer;

/**
 * ADD's discriminator side: the trainable heads of a {@link ProjectedDiscriminator} on a frozen feature
 * network, trained by the hinge loss on real and generated images plus R1 on the real images' features (Adam,
 * beta1 = 0). It also judges: how far apart the heads put real and generated images, which is what tells a
 * discriminator that learns from one whose hinge merely sits near 2.
 */
public final class DiscriminatorTrainer implements AutoCloseable {

    /**
     * How the heads see a set of real and generated images: the mean per-sample logit of each (a sample's logit
     * is the mean of its per-token logits over every head, the reduction R1 uses), and the share of samples on
     * the right side of 0 (real above, generated below; 0.5 is chance).
     */
    public record Judgement(double meanRealLogit, double meanFakeLogit, double accuracy) {}

    /** One discriminator step: the two hinge halves, R1, and the judgement of the (augmented) training batch. */
    public record Losses(double realHinge, double fakeHinge, double r1, Judgement batch) {}

    private final ProjectedDiscriminator discriminator;
    private final Function<Tensor, List<Tensor>> features;
    private final Optimizer optimizer;
    private final double gamma;
    private final boolean augment;

    /**
     * @param features images in [-1, 1] -> the frozen feature network's hidden states
     * @param augment  DiffAugment on every image the heads see in training (not when judging)
     */
    public DiscriminatorTrainer(ProjectedDiscriminator discriminator, Function<Tensor, List<Tensor>> features, double learningRate,
                                double gamma, boolean augment) {
        this.discriminator = discriminator;
        this.features = features;
        this.gamma = gamma;
        this.augment = augment;
        this.optimizer = Optimizer.adamW(discriminator.parameters(), learningRate, 0.0, 0.99, 1e-8, 0, false);
    }

    /**
     * The heads' per-token logits (B, tokens) on augmented images, with a graph through the feature network
     * into the images: the student's adversarial term.
     */
    public Tensor generatorLogits(Tensor images, Tensor condition, Generator generator) {
        return discriminator.logits(discriminator.select(features.apply(augmentIfOn(images, generator))), condition, false);
    }

    /** One step on the heads: hinge on real and generated images (detached), R1 on the real features. */
    public Losses step(Tensor realImages, Tensor fakeImages, Tensor condition, Generator generator) {
        try (Scope s = Scope.open()) {
            List<Tensor> realFeatures, fakeFeatures;
            try (var frozen = Autograd.noGrad()) {
                realFeatures = discriminator.select(features.apply(augmentIfOn(realImages, generator)));
                fakeFeatures = discriminator.select(features.apply(augmentIfOn(fakeImages.detach(), generator)));
            }
            List<Tensor> realInputs = new ArrayList<>();
            for (Tensor f : realFeatures) realInputs.add(f.requiresGrad(true));  // R1 differentiates the real logits in these
            Tensor realLogits = discriminator.logits(realInputs, condition, true);
            Tensor fakeLogits = discriminator.logits(fakeFeatures, condition, true);
            Tensor realHinge = AdversarialLosses.realHinge(realLogits), fakeHinge = AdversarialLosses.fakeHinge(fakeLogits);
            Tensor realPerSample = realLogits.mean(new long[] {1}, false);
            Tensor r1 = AdversarialLosses.r1Penalty(realPerSample, realInputs, gamma);
            optimizer.zeroGrad();
            realHinge.add(fakeHinge).add(r1).backward();
            optimizer.step();
            Judgement batch = judgement(realPerSample.detach(), fakeLogits.detach().mean(new long[] {1}, false));
            return new Losses(realHinge.item(), fakeHinge.item(), r1.item(), batch);
        }
    }

    /**
     * The heads' judgement of images they were not trained on, without augmentation or a graph, in chunks of
     * {@code chunk} samples (the heads normalise over groups of 8 within what they see at once, so judge in the
     * training batch's size).
     */
    public Judgement judge(Tensor realImages, Tensor fakeImages, Tensor condition, int chunk) {
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            return judgement(perSampleLogits(realImages, condition, chunk), perSampleLogits(fakeImages, condition, chunk));
        }
    }

    private Tensor perSampleLogits(Tensor images, Tensor condition, int chunk) {
        long n = images.size(0);
        List<Tensor> parts = new ArrayList<>();
        for (long start = 0; start < n; start += chunk) {
            long length = Math.min(chunk, n - start);
            Tensor logits = discriminator.logits(discriminator.select(features.apply(images.narrow(0, start, length))),
                    condition.narrow(0, start, length), false);
            parts.add(logits.mean(new long[] {1}, false));
        }
        return Tensor.cat(0, parts.toArray(Tensor[]::new));
    }

    private static Judgement judgement(Tensor real, Tensor fake) {
        double right = real.gt(0).to(DType.FLOAT32).sum().item() + fake.lt(0).to(DType.FLOAT32).sum().item();
        return new Judgement(real.mean().item(), fake.mean().item(), right / (real.size(0) + fake.size(0)));
    }

    private Tensor augmentIfOn(Tensor images, Generator generator) {
        return augment ? DiffAugment.apply(images, generator) : images;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    @Override
    public void close() {
        optimizer.close();
    }
}
