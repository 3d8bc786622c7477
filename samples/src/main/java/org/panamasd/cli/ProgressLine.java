package org.panamasd.cli;

/**
 * A one-line progress bar for long runs: steps done, the caller's figures (losses), throughput and time left.
 * On a terminal it redraws in place; into a log it prints a line every {@code every} steps.
 */
final class ProgressLine {
    private final String label;
    private final long total;
    private final long every;
    private final long start = System.nanoTime();
    private final long firstStep;
    // since JDK 22 System.console() exists even when output is redirected; isTerminal() tells a log from a terminal
    private final boolean terminal = System.console() != null && System.console().isTerminal();

    ProgressLine(String label, long firstStep, long total, long every) {
        this.label = label;
        this.firstStep = firstStep;
        this.total = total;
        this.every = every;
    }

    void update(long step, long itemsPerStep, String figures) {
        if (!terminal && step % every != 0 && step != total) return;
        double seconds = (System.nanoTime() - start) / 1e9;
        long done = step - firstStep;
        double rate = done / Math.max(seconds, 1e-9);
        double left = (total - step) / Math.max(rate, 1e-9);
        int width = 24, filled = (int) (width * step / Math.max(1, total));
        String bar = "#".repeat(filled) + ".".repeat(width - filled);
        String line = String.format("%s [%s] %d/%d  %s  %.1f items/s  %s left", label, bar, step, total, figures, rate * itemsPerStep,
                duration(left));
        if (terminal) System.out.print("\r" + line + (step == total ? "\n" : ""));
        else System.out.println(line);
        System.out.flush();
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : String.format("%dm%02ds", s / 60, s % 60);
    }
}
