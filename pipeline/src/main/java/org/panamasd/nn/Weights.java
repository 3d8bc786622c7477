package org.panamasd.nn;

import org.panamasd.Tensor;

/**
 * Where a model's parameters come from, by state-dict key: a checkpoint ({@link StateDict}) or a fresh
 * initialisation. Every tensor it returns is owned by the model's parameter scope, not by the caller's.
 */
public interface Weights {

    /** The parameter under {@code key}, which must have exactly {@code shape}. */
    Tensor get(String key, long... shape);
}
