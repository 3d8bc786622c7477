package org.panamasd.benchmark;

/**
 * One measured part with its model loaded: a call to time, the nominal FLOPs of one call and what the call
 * takes as input, in words. {@link #call()} runs inside a fresh scope and inference mode; the runner times it
 * including the scope's close, since freeing a step's temporaries is part of every step.
 */
public interface Workload extends AutoCloseable {
    String input();

    Flops flops();

    void call();

    @Override
    void close();
}
