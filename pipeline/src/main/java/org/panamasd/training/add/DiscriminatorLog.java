package org.panamasd.training.add;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.training.LossCurve;

/**
 * What the discriminator saw over a run, one line per judgement in a TSV file (step; on the training batch and on
 * held-out images: mean real logit, mean generated logit, accuracy), and a plot of it. A resumed run appends
 * after dropping lines from the steps it repeats, so the file and the plot cover the whole run.
 */
public final class DiscriminatorLog {
    private static final String HEADER = "step\tbatch_real_logit\tbatch_fake_logit\tbatch_accuracy\theld_out_real_logit\theld_out_fake_logit\theld_out_accuracy";
    private final Path file;

    /** Opens {@code file}, keeping the lines of steps before {@code firstStep}. */
    public DiscriminatorLog(Path file, long firstStep) {
        this.file = file;
        try {
            List<String> kept = new ArrayList<>(List.of(HEADER));
            if (Files.isRegularFile(file))
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8))
                    if (!line.startsWith("step") && !line.isBlank() && stepOf(line) < firstStep) kept.add(line);
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.write(file, kept, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private long stepOf(String line) {
        try {
            return Long.parseLong(line.split("\t")[0]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": a line that is not a judgement: '" + line + "'");
        }
    }

    public void add(long step, DiscriminatorTrainer.Judgement batch, DiscriminatorTrainer.Judgement heldOut) {
        String line = String.format(java.util.Locale.ROOT, "%d\t%.5f\t%.5f\t%.4f\t%.5f\t%.5f\t%.4f%n", step, batch.meanRealLogit(), batch.meanFakeLogit(),
                batch.accuracy(), heldOut.meanRealLogit(), heldOut.meanFakeLogit(), heldOut.accuracy());
        try {
            Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** The held-out logits and both accuracies over the steps, on a linear scale. */
    public void plot(Path png, String title) {
        LossCurve curve = new LossCurve(true);
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.startsWith("step") || line.isBlank()) continue;
                String[] f = line.split("\t");
                long step = stepOf(line);
                curve.add("held-out real logit", step, Double.parseDouble(f[4]));
                curve.add("held-out fake logit", step, Double.parseDouble(f[5]));
                curve.add("held-out accuracy", step, Double.parseDouble(f[6]));
                curve.add("batch accuracy", step, Double.parseDouble(f[3]));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        curve.write(png, title);
    }
}
