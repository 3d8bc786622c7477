package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;

/**
 * Matrix products. One family of {@link Tensor}'s operations, each a call of one shim function whose result is a new
 * tensor in the current scope; {@link Tensor} implements every family.
 */
public sealed interface LinearAlgebraOps permits Tensor {
    /** The native handle (see {@link Tensor#handle()}). */
    MemorySegment handle();

    default Tensor matmul(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_matmul", (s, r) -> psd_tensor_matmul(a, b, r));
    }

    default Tensor bmm(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_bmm", (s, r) -> psd_tensor_bmm(a, b, r));
    }

    /** beta * this + alpha * (a @ b), batched. With beta == 0 this tensor's values are never read. */
    default Tensor baddbmm(Tensor a, Tensor b, double beta, double alpha) {
        MemorySegment in = handle(), x = a.handle(), y = b.handle();
        return Tensor.produce("psd_tensor_baddbmm", (s, r) -> psd_tensor_baddbmm(in, x, y, beta, alpha, r));
    }
}
