package org.panamasd.training.add;

import java.nio.file.Path;
import java.util.List;
import org.panamasd.training.MetricLog;

/**
 * What the discriminator saw over a run ({@link MetricLog}: step; on the training batch and on held-out images:
 * mean real logit, mean generated logit, accuracy), and a plot of it.
 */
public final class DiscriminatorLog {
    private final MetricLog log;

    /** Opens {@code file}, keeping the lines of steps before {@code firstStep}. */
    public DiscriminatorLog(Path file, long firstStep) {
        log = new MetricLog(file, List.of("batch_real_logit", "batch_fake_logit", "batch_accuracy", "held_out_real_logit", "held_out_fake_logit",
                "held_out_accuracy"), firstStep);
    }

    public void add(long step, DiscriminatorTrainer.Judgement batch, DiscriminatorTrainer.Judgement heldOut) {
        log.add(step, batch.meanRealLogit(), batch.meanFakeLogit(), batch.accuracy(), heldOut.meanRealLogit(), heldOut.meanFakeLogit(), heldOut.accuracy());
    }

    /** The held-out logits and both accuracies over the steps, on a linear scale. */
    public void plot(Path png, String title) {
        log.plot(png, title, List.of("held_out_real_logit", "held_out_fake_logit", "held_out_accuracy", "batch_accuracy"));
    }
}
