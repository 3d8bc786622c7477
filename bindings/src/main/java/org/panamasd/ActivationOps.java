package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;

/**
 * Activations and softmax. One family of {@link Tensor}'s operations, each a call of one shim function whose result
 * is a new tensor in the current scope; {@link Tensor} implements every family.
 */
public sealed interface ActivationOps permits Tensor {
    /** The native handle (see {@link Tensor#handle()}). */
    MemorySegment handle();

    default Tensor silu() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_silu", (s, r) -> psd_tensor_silu(a, r)); }
    default Tensor relu() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_relu", (s, r) -> psd_tensor_relu(a, r)); }
    default Tensor sigmoid() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_sigmoid", (s, r) -> psd_tensor_sigmoid(a, r)); }
    default Tensor tanh() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_tanh", (s, r) -> psd_tensor_tanh(a, r)); }

    /** The exact (erf) GELU. */
    default Tensor gelu() {
        return gelu(false);
    }

    default Tensor gelu(boolean tanhApproximation) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_gelu", (s, r) -> psd_tensor_gelu(a, tanhApproximation, r));
    }

    default Tensor leakyRelu(double negativeSlope) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_leaky_relu", (s, r) -> psd_tensor_leaky_relu(a, negativeSlope, r));
    }

    default Tensor softmax(long dim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_softmax", (s, r) -> psd_tensor_softmax(a, dim, r));
    }

    default Tensor logSoftmax(long dim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_log_softmax", (s, r) -> psd_tensor_log_softmax(a, dim, r));
    }
}
