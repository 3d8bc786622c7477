package org.panamasd.nn;

import java.util.Locale;

/**
 * How a model keeps its linear and convolution weights: {@code dense} in the compute dtype (as the checkpoint,
 * converted), or {@code int8}: weight-only quantization, each output channel's weights rounded to integers in
 * [-127, 127] times a float32 scale (its largest magnitude / 127), a quarter of float32's memory. An int8 layer
 * dequantizes its weight into the compute dtype for each call ({@link LayerWeight}), so activations, norms,
 * biases and embeddings keep the compute dtype and what changes is the weights' rounding.
 */
public enum WeightFormat {
    DENSE, INT8;

    /** {@code dense} or {@code int8} (case-insensitive). */
    public static WeightFormat parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "dense" -> DENSE;
            case "int8" -> INT8;
            default -> throw new IllegalArgumentException("weights must be dense or int8, not " + name);
        };
    }

    /** The option's spelling: dense, int8. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
