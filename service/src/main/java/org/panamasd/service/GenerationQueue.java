package org.panamasd.service;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bounded queue of waiting jobs, handed out in batches: a worker takes the oldest job, then, for at most
 * the batching wait, every queued job with the same {@link BatchKey}, up to the batch size. Jobs that cannot
 * join it keep their places.
 */
final class GenerationQueue {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final LinkedList<Job> waiting = new LinkedList<>();
    private final int capacity;
    private boolean closed;

    GenerationQueue(int capacity) {
        this.capacity = capacity;
    }

    int capacity() {
        return capacity;
    }

    /** Adds a job; false when the queue is full or closed. */
    boolean offer(Job job) {
        lock.lock();
        try {
            if (closed || waiting.size() >= capacity) return false;
            waiting.add(job);
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    boolean remove(Job job) {
        lock.lock();
        try {
            return waiting.remove(job);
        } finally {
            lock.unlock();
        }
    }

    int depth() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** The next batch (never empty), or null once the queue is closed. */
    List<Job> nextBatch(int maxBatch, Duration maxWait) throws InterruptedException {
        lock.lock();
        try {
            while (waiting.isEmpty() && !closed) changed.await();
            if (closed) return null;
            List<Job> batch = new ArrayList<>();
            batch.add(waiting.removeFirst());
            BatchKey key = batch.getFirst().parameters().batchKey();
            long left = maxWait.toNanos();
            while (true) {
                takeMatching(key, batch, maxBatch);
                if (batch.size() >= maxBatch || left <= 0 || closed) return batch;
                left = changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    private void takeMatching(BatchKey key, List<Job> batch, int maxBatch) {
        for (Iterator<Job> it = waiting.iterator(); it.hasNext() && batch.size() < maxBatch; ) {
            Job job = it.next();
            if (job.parameters().batchKey().equals(key)) {
                it.remove();
                batch.add(job);
            }
        }
    }

    /** Wakes the workers to end, and returns the jobs still waiting (the caller cancels them). */
    List<Job> close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
            List<Job> left = new ArrayList<>(waiting);
            waiting.clear();
            return left;
        } finally {
            lock.unlock();
        }
    }
}
