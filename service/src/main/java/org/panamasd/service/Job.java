package org.panamasd.service;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One submitted generation and its life: queued, running (with the step reached and a latent preview), then
 * done (the PNG), failed, cancelled or expired (its deadline passed). State changes are atomic, the first
 * final state wins, and observers (progress streams) hear every change.
 */
public final class Job {
    public enum State {
        QUEUED, RUNNING, DONE, FAILED, CANCELLED, EXPIRED;

        public boolean finished() {
            return this != QUEUED && this != RUNNING;
        }
    }

    /** Hears a job's changes; called on the thread that changed it. */
    interface Observer {
        void changed(Job job);
    }

    private final String id;
    private final GenerationParameters parameters;
    private final long submittedNanos = System.nanoTime();
    private final long deadlineNanos;
    private final List<Observer> observers = new CopyOnWriteArrayList<>();
    private volatile State state = State.QUEUED;
    private volatile int step;
    private volatile byte[] preview;
    private volatile byte[] png;
    private volatile String error;
    private volatile long finishedNanos;

    Job(String id, GenerationParameters parameters) {
        this.id = id;
        this.parameters = parameters;
        this.deadlineNanos = submittedNanos + parameters.deadline().toNanos();
    }

    public String id() {
        return id;
    }

    public GenerationParameters parameters() {
        return parameters;
    }

    public State state() {
        return state;
    }

    public int step() {
        return step;
    }

    public byte[] preview() {
        return preview;
    }

    public byte[] png() {
        return png;
    }

    public String error() {
        return error;
    }

    /** Seconds from submission to the final state (or to now while unfinished). */
    public double seconds() {
        long end = state.finished() ? finishedNanos : System.nanoTime();
        return (end - submittedNanos) / 1e9;
    }

    void observe(Observer observer) {
        observers.add(observer);
    }

    void forget(Observer observer) {
        observers.remove(observer);
    }

    boolean observed() {
        return !observers.isEmpty();
    }

    /** Whether the work is still wanted; a job past its deadline expires here. */
    boolean wanted() {
        if (!state.finished() && System.nanoTime() - deadlineNanos > 0)
            finish(State.EXPIRED, null, "deadline of " + parameters.deadline().toSeconds() + " s passed");
        return !state.finished();
    }

    /** QUEUED to RUNNING; false when the job ended meanwhile. */
    synchronized boolean start() {
        if (state != State.QUEUED) return false;
        state = State.RUNNING;
        notifyObservers();
        return true;
    }

    void progress(int stepsDone, byte[] previewPng) {
        if (state != State.RUNNING) return;
        step = stepsDone;
        if (previewPng != null) preview = previewPng;
        notifyObservers();
    }

    boolean complete(byte[] image) {
        return finish(State.DONE, image, null);
    }

    boolean fail(String message) {
        return finish(State.FAILED, null, message);
    }

    boolean cancel(String reason) {
        return finish(State.CANCELLED, null, reason);
    }

    private boolean finish(State end, byte[] image, String message) {
        synchronized (this) {
            if (state.finished()) return false;
            png = image;
            error = message;
            if (end == State.DONE) step = parameters.steps();
            finishedNanos = System.nanoTime();
            state = end;
        }
        notifyObservers();
        return true;
    }

    private void notifyObservers() {
        for (Observer o : observers) o.changed(this);
    }
}
