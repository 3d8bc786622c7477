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
    private final HeadGroups groups;

    /**
     * @param features images in [-1, 1] -> the frozen feature network's hidden states
     * @param augment  DiffAugment on every image the heads see in training (not when judging)
     */
    public DiscriminatorTrainer(ProjectedDiscriminator discriminator, Function<Tensor, List<Tensor>> features, double learningRate,
                                double gamma, boolean augment) {
        this(discriminator, features, learningRate, gamma, augment, HeadGroups.SEPARATE);
    }

    /** @param groups whether real and generated samples share the heads' normalisation groups ({@link HeadGroups}) */
    public DiscriminatorTrainer(ProjectedDiscriminator discriminator, Function<Tensor, List<Tensor>> features, double learningRate,
                                double gamma, boolean augment, HeadGroups groups) {
        this.discriminator = discriminator;
        this.features = features;
        this.gamma = gamma;
        this.augment = augment;
        this.groups = groups;
        this.optimizer = Optimizer.adamW(discriminator.parameters(), learningRate, 0.0, 0.99, 1e-8, 0, false);
    }

    /**
     * The heads' per-token logits (B, tokens) on augmented images, with a graph through the feature network
     * into the images: the student's adversarial term.
     */
    public Tensor generatorLogits(Tensor images, Tensor realImages, Tensor condition, Generator generator) {
        List<Tensor> fake = discriminator.select(features.apply(augmentIfOn(images, generator)));
        if (groups == HeadGroups.SEPARATE) return discriminator.logits(fake, condition, false);
        List<Tensor> real;
        try (var frozen = Autograd.noGrad()) {  // the real half only keeps the groups mixed, as in the heads' own step
            real = discriminator.select(features.apply(augmentIfOn(realImages, generator)));
        }
        return realAndFakeLogits(real, fake, condition, false)[1];
    }

    /**
     * The per-token logits of real and of generated samples: in passes of their own, or with the two
     * alternating in one pass so that every normalisation group of the heads holds both ({@link HeadGroups}).
     */
    private Tensor[] realAndFakeLogits(List<Tensor> real, List<Tensor> fake, Tensor condition, boolean training) {
        if (groups == HeadGroups.SEPARATE)
            return new Tensor[] {discriminator.logits(real, condition, training), discriminator.logits(fake, condition, training)};
        long b = condition.size(0);
        List<Tensor> alternating = new ArrayList<>();
        for (int k = 0; k < real.size(); k++) alternating.add(Tensor.stack(1, real.get(k), fake.get(k)).flatten(0, 1));
        Tensor logits = discriminator.logits(alternating, Tensor.stack(1, condition, condition).flatten(0, 1), training);
        Tensor pairs = logits.reshape(b, 2, logits.size(1));
        return new Tensor[] {pairs.narrow(1, 0, 1).squeeze(1), pairs.narrow(1, 1, 1).squeeze(1)};
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
            Tensor[] logits = realAndFakeLogits(realInputs, fakeFeatures, condition, true);
            Tensor realLogits = logits[0], fakeLogits = logits[1];
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
        if (realImages.size(0) != fakeImages.size(0))
            throw new IllegalArgumentException("judge " + realImages.size(0) + " real against " + fakeImages.size(0) + " generated images: give as many of each");
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            long n = realImages.size(0);
            List<Tensor> real = new ArrayList<>(), fake = new ArrayList<>();
            for (long start = 0; start < n; start += chunk) {  // chunk by chunk, in the passes the heads train on
                long length = Math.min(chunk, n - start);
                Tensor[] logits = realAndFakeLogits(discriminator.select(features.apply(realImages.narrow(0, start, length))),
                        discriminator.select(features.apply(fakeImages.narrow(0, start, length))), condition.narrow(0, start, length), false);
                real.add(logits[0].mean(new long[] {1}, false));
                fake.add(logits[1].mean(new long[] {1}, false));
            }
            return judgement(Tensor.cat(0, real.toArray(Tensor[]::new)), Tensor.cat(0, fake.toArray(Tensor[]::new)));
        }
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
