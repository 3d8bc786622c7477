package org.panamasd.training.add;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.training.StepSeeds;

/**
 * Does the discriminator see? Trains the heads alone against a fixed generator (for ADD: the student frozen at
 * its teacher initialisation) and judges images it never trained on every few steps. A feature network and
 * head design that cannot tell the generator's images from real ones stays at chance (0.5) however long it
 * trains; one that sees climbs. ADD's student only learns from a discriminator that passes this.
 */
public final class DiscriminatorProbe {
    /** Held-out accuracy from which a discriminator counts as seeing: on 2 x 128 images chance is 0.5 +- 0.03. */
    public static final double SEES = 0.7;

    /** Real images, the generator's images drawn for the same captions (in ADD, from the real images' latents), and their condition (B, c). */
    public record Images(Tensor real, Tensor fake, Tensor condition) {}

    /** Training images for one probe step (made in the caller's scope; the probe frees them after the step). */
    @FunctionalInterface
    public interface Source {
        Images draw(long step, Generator generator);
    }

    /** The judgement of the training batch (augmented) and of the held-out images after {@code step} steps. */
    public record Point(long step, DiscriminatorTrainer.Losses training, DiscriminatorTrainer.Judgement heldOut) {}

    public record Result(List<Point> curve) {
        public DiscriminatorTrainer.Judgement last() {
            return curve.getLast().heldOut();
        }

        public boolean sees() {
            return last().accuracy() >= SEES;
        }
    }

    /**
     * Trains {@code discriminator} for {@code steps} steps on images from {@code source} (step n's generator is
     * seeded by {@code seed} and n) and judges {@code heldOut} after every {@code every} steps and the last, in
     * chunks of {@code chunk}.
     */
    public static Result run(DiscriminatorTrainer discriminator, Source source, Images heldOut, int steps, int every, int chunk, long seed,
                             Consumer<Point> report) {
        if (steps < 1 || every < 1) throw new IllegalArgumentException("a probe needs steps >= 1 and every >= 1, got " + steps + " and " + every);
        List<Point> curve = new ArrayList<>();
        for (long step = 1; step <= steps; step++) {
            DiscriminatorTrainer.Losses losses;
            try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(seed, step)) {
                Images batch = source.draw(step, g);
                losses = discriminator.step(batch.real(), batch.fake(), batch.condition(), g);
            }
            if (step % every == 0 || step == steps) {
                Point point = new Point(step, losses, discriminator.judge(heldOut.real(), heldOut.fake(), heldOut.condition(), chunk));
                curve.add(point);
                report.accept(point);
            }
        }
        return new Result(List.copyOf(curve));
    }

    private DiscriminatorProbe() {}
}
