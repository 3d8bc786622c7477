package org.panamasd.cli;

import java.io.PrintWriter;
import me.tongfei.progressbar.ProgressBarConsumer;

/**
 * A progress bar's consumer for a log rather than a terminal: it keeps the latest rendering and prints it as a
 * line only when asked, so a log gets a few lines instead of every redraw.
 */
final class LatestRendering implements ProgressBarConsumer {
    private final PrintWriter log;
    private String latest;

    LatestRendering(PrintWriter log) {
        this.log = log;
    }

    @Override
    public int getMaxRenderedLength() {
        return 150;
    }

    @Override
    public void accept(String rendered) {
        latest = rendered;
    }

    /** Prints the latest rendering, if there is one. */
    void print() {
        if (latest != null) log.println(latest.strip());
        log.flush();
    }

    @Override
    public void close() {
        log.flush();
    }
}
