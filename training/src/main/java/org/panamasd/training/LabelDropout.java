package org.panamasd.training;

import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Tensor;

/**
 * Classifier-free guidance's training half (Ho and Salimans 2022): each label is replaced by the null class
 * with probability p, so one network also learns the unconditional model that guidance extrapolates from.
 */
public final class LabelDropout {
    private LabelDropout() {}

    /** labels (B,) int64 with each entry replaced by {@code nullClass} with probability {@code p}, in the current scope. */
    public static Tensor apply(Tensor labels, double p, int nullClass, Generator generator) {
        long batch = labels.size(0);
        Tensor dropped = Tensor.rand(generator, batch).lt(p);
        return Tensor.where(dropped, Tensor.full(nullClass, DType.INT64, labels.device(), batch), labels);
    }
}
