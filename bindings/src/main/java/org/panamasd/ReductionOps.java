package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;

/**
 * Reductions over all elements or over dimensions. One family of {@link Tensor}'s operations, each a call of one shim
 * function whose result is a new tensor in the current scope; {@link Tensor} implements every family.
 */
public sealed interface ReductionOps permits Tensor {
    /** The native handle (see {@link Tensor#handle()}). */
    MemorySegment handle();

    default Tensor sum() {
        return sum(new long[0], false);
    }

    default Tensor sum(long[] dims, boolean keepdim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_sum", (s, r) -> psd_tensor_sum(a, s.longs(dims), dims.length, keepdim, r));
    }

    default Tensor mean() {
        return mean(new long[0], false);
    }

    default Tensor mean(long[] dims, boolean keepdim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_mean", (s, r) -> psd_tensor_mean(a, s.longs(dims), dims.length, keepdim, r));
    }

    /** Variance with {@code correction} (1: unbiased). An empty dims array reduces over all. */
    default Tensor var(long[] dims, long correction, boolean keepdim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_var", (s, r) -> psd_tensor_var(a, s.longs(dims), dims.length, correction, keepdim, r));
    }

    default Tensor std(long[] dims, long correction, boolean keepdim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_std", (s, r) -> psd_tensor_std(a, s.longs(dims), dims.length, correction, keepdim, r));
    }

    default Tensor max() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_max_all", (s, r) -> psd_tensor_max_all(a, r)); }
    default Tensor min() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_min_all", (s, r) -> psd_tensor_min_all(a, r)); }

    default Tensor max(long dim, boolean keepdim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_max_dim", (s, r) -> psd_tensor_max_dim(a, dim, keepdim, r, MemorySegment.NULL));
    }

    default Tensor min(long dim, boolean keepdim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_min_dim", (s, r) -> psd_tensor_min_dim(a, dim, keepdim, r, MemorySegment.NULL));
    }

    default Tensor argmax(long dim, boolean keepdim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_argmax", (s, r) -> psd_tensor_argmax(a, dim, keepdim, r));
    }
}
