package org.panamasd.service;

/** The queue is at its bound (HTTP 429); {@code retryAfterSeconds} is when a slot is likely free again. */
public final class QueueFull extends RuntimeException {
    private final long retryAfterSeconds;

    QueueFull(int capacity, long retryAfterSeconds) {
        super("the queue is full (" + capacity + " requests); retry in " + retryAfterSeconds + " s");
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
