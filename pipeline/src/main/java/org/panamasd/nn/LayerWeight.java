package org.panamasd.nn;

import java.util.Arrays;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Tensor;

/**
 * A linear or convolution layer's weight as a model keeps it ({@link WeightFormat}): {@code stored} is the dense
 * weight in the compute dtype, or the int8 weight whose output channel (dim 0) {@code r} is multiplied by
 * {@code scale[r]} (float32) to give the weight back.
 */
public record LayerWeight(Tensor stored, Tensor scale) {
    public LayerWeight {
        if (scale != null && (stored.dtype() != DType.INT8 || scale.dtype() != DType.FLOAT32 || scale.dim() != 1 || scale.size(0) != stored.size(0)))
            throw new IllegalArgumentException("an int8 layer weight needs int8 values and a float32 scale per output channel, got " + stored.dtype()
                    + " " + Arrays.toString(stored.shape()) + " and " + scale.dtype() + " " + Arrays.toString(scale.shape()));
    }

    /** A dense weight, used as it is. */
    public static LayerWeight dense(Tensor weight) {
        return new LayerWeight(weight, null);
    }

    /**
     * {@code weight} quantized per output channel: scale = the channel's largest magnitude / 127 (symmetric, so zero
     * stays exactly zero), values rounded to the nearest multiple of it (an all-zero channel gets scale 1 and stays
     * zero). Both tensors in the caller's scope; no float temporaries beyond a float32 copy of a float16 weight.
     */
    public static LayerWeight int8(Tensor weight) {
        Tensor scale = Tensor.empty(DType.FLOAT32, weight.device(), weight.size(0));
        return new LayerWeight(Functional.quantizeRows(weight, scale), scale);
    }

    public boolean quantized() {
        return scale != null;
    }

    public long[] shape() {
        return stored.shape();
    }

    public long size(int dim) {
        return stored.size(dim);
    }

    /**
     * The weight to compute with: a dense one as it is stored (whatever {@code dtype}), an int8 one dequantized into
     * {@code dtype} (the input's: float32 or bfloat16), a copy in the caller's scope.
     */
    public Tensor in(DType dtype) {
        return quantized() ? Functional.dequantizeRows(stored, scale, dtype) : stored;
    }
}
