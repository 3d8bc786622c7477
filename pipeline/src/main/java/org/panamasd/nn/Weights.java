package org.panamasd.nn;

import org.panamasd.Tensor;

/**
 * Where a model's parameters come from, by state-dict key: a checkpoint ({@link StateDict}) or a fresh
 * initialisation. Every tensor it returns is owned by the model's parameter scope, not by the caller's.
 */
public interface Weights {

    /** The parameter under {@code key}, which must have exactly {@code shape}. */
    Tensor get(String key, long... shape);

    /**
     * A linear or convolution layer's weight under {@code key}, in the form this store keeps such weights
     * ({@link WeightFormat}): dense, as {@link #get}, unless the store quantizes them.
     */
    default LayerWeight layerWeight(String key, long... shape) {
        return LayerWeight.dense(get(key, shape));
    }
}
