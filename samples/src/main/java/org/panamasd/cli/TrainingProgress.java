package org.panamasd.cli;

import java.text.DecimalFormat;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The progress of a training run (me.tongfei:progressbar, as {@link StepProgress} for generation): steps done,
 * the caller's figures (losses) as the bar's message, steps/s and time left. On a terminal it redraws in place;
 * into a log it prints the bar as a line every {@code every} steps and at the end. A resumed run starts at its
 * first step, so its rate counts only its own steps. The bar closes itself at the last step (its drawing thread
 * is a daemon, so a run that fails before needs no close).
 */
final class TrainingProgress implements AutoCloseable {
    private final ProgressBar bar;
    private final LatestRendering lines;
    private final long total, every;

    TrainingProgress(String task, long firstStep, long total, long every) {
        this.total = total;
        this.every = every;
        boolean terminal = System.console() != null && System.console().isTerminal();
        this.lines = terminal ? null : new LatestRendering(new java.io.PrintWriter(System.out, true));
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).startsFrom(firstStep, Duration.ZERO).setUnit(" steps", 1)
                .showSpeed(new DecimalFormat("0.00")).setSpeedUnit(ChronoUnit.SECONDS).setStyle(ProgressBarStyle.ASCII).setMaxRenderedLength(150)
                .setUpdateIntervalMillis(terminal ? 200 : Integer.MAX_VALUE)  // a log gets its lines from update() only
                .setConsumer(terminal ? new ConsoleProgressBarConsumer(System.out) : lines).build();
    }

    void update(long step, String figures) {
        bar.stepTo(step);
        bar.setExtraMessage("  " + figures);
        if (lines != null && (step % every == 0 || step == total)) {
            bar.refresh();
            lines.print();
        }
        if (step == total) close();
    }

    @Override
    public void close() {
        bar.close();
    }
}
