package org.panamasd.cli;

import java.io.PrintWriter;
import java.text.DecimalFormat;
import java.time.temporal.ChronoUnit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The denoising steps of a generate run as a progress bar (me.tongfei:progressbar) with steps/s and time left.
 * On a terminal it redraws in place on stderr; into a pipe or a log it writes only its final state, one line
 * on {@code log}, so logs are not flooded with redraws, and none when no step ran (the run failed before).
 */
final class StepProgress implements AutoCloseable {
    private final ProgressBar bar;
    private final LatestRendering lines;
    private boolean stepped;

    StepProgress(String task, long totalSteps, PrintWriter log) {
        boolean terminal = System.console() != null && System.console().isTerminal();
        lines = terminal ? null : new LatestRendering(log);
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(totalSteps).setUnit(" steps", 1)
                .showSpeed(new DecimalFormat("0.00")).setSpeedUnit(ChronoUnit.SECONDS).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(100).setConsumer(terminal ? new ConsoleProgressBarConsumer(System.err) : lines)
                .build();
    }

    void step() {
        stepped = true;
        bar.step();
    }

    @Override
    public void close() {
        bar.close();
        if (lines != null && stepped) lines.print();  // the final state, once
    }
}
