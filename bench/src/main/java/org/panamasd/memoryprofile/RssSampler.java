package org.panamasd.memoryprofile;

import java.util.ArrayList;
import java.util.List;

/**
 * Samples this process's resident memory on a daemon thread: VmRSS every {@code periodMillis}, and a
 * full {@link RssBreakdown} whenever RSS has reached a new high (at most one per {@code breakdownMillis}: smaps
 * takes milliseconds to read), so the breakdown nearest the RSS peak is at hand when the run is over.
 */
public final class RssSampler implements AutoCloseable {
    /** RSS at one moment (System.nanoTime). */
    public record Sample(long timeNanos, long rssBytes) {}


    private final long periodMillis, breakdownMillis;
    private final List<Sample> samples = new ArrayList<>();
    private final List<RssBreakdown> breakdowns = new ArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;

    public RssSampler(long periodMillis, long breakdownMillis) {
        this.periodMillis = periodMillis;
        this.breakdownMillis = breakdownMillis;
        this.thread = Thread.ofPlatform().daemon().name("rss-sampler").start(this::loop);
    }

    private void loop() {
        long highest = 0, lastBreakdown = 0;
        while (running) {
            long rss = rss();
            long now = System.nanoTime();
            synchronized (this) {
                samples.add(new Sample(now, rss));
            }
            if (rss > highest && now - lastBreakdown >= breakdownMillis * 1_000_000L) {
                RssBreakdown b = RssBreakdown.take();
                if (b != null) {
                    synchronized (this) {
                        breakdowns.add(b);
                    }
                    highest = Math.max(rss, b.rss());
                    lastBreakdown = now;
                }
            }
            try {
                Thread.sleep(periodMillis);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static long rss() {
        return org.panamasd.benchmark.ProcessMemory.rssBytes();
    }

    public synchronized List<Sample> samples() {
        return List.copyOf(samples);
    }

    public synchronized List<RssBreakdown> breakdowns() {
        return List.copyOf(breakdowns);
    }

    /** Stops sampling. */
    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
