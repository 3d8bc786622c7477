package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;

/**
 * Views and copies that change shape, and indexing. One family of {@link Tensor}'s operations, each a call of one
 * shim function whose result is a new tensor in the current scope; {@link Tensor} implements every family.
 */
public sealed interface ShapeOps permits Tensor {
    /** The native handle (see {@link Tensor#handle()}). */
    MemorySegment handle();

    /** The length of dimension {@code dim} (see {@link Tensor#size(int)}). */
    long size(int dim);

    default Tensor reshape(long... shape) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_reshape", (s, r) -> psd_tensor_reshape(a, s.longs(shape), shape.length, r));
    }

    default Tensor view(long... shape) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_view", (s, r) -> psd_tensor_view(a, s.longs(shape), shape.length, r));
    }

    default Tensor permute(long... dims) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_permute", (s, r) -> psd_tensor_permute(a, s.longs(dims), dims.length, r));
    }

    default Tensor transpose(long dim0, long dim1) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_transpose", (s, r) -> psd_tensor_transpose(a, dim0, dim1, r));
    }

    default Tensor expand(long... shape) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_expand", (s, r) -> psd_tensor_expand(a, s.longs(shape), shape.length, r));
    }

    default Tensor repeat(long... repeats) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_repeat", (s, r) -> psd_tensor_repeat(a, s.longs(repeats), repeats.length, r));
    }

    default Tensor squeeze(long dim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_squeeze", (s, r) -> psd_tensor_squeeze(a, dim, r));
    }

    default Tensor unsqueeze(long dim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_unsqueeze", (s, r) -> psd_tensor_unsqueeze(a, dim, r));
    }

    default Tensor flatten(long startDim, long endDim) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_flatten", (s, r) -> psd_tensor_flatten(a, startDim, endDim, r));
    }

    default Tensor narrow(long dim, long start, long length) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_narrow", (s, r) -> psd_tensor_narrow(a, dim, start, length, r));
    }

    default Tensor slice(long dim, long start, long end, long step) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_slice", (s, r) -> psd_tensor_slice(a, dim, start, end, step, r));
    }

    /** The i-th entry along dim 0 (a view). */
    default Tensor get(long index) {
        return narrow(0, index, 1).squeeze(0);
    }

    default Tensor indexSelect(long dim, Tensor index) {
        MemorySegment a = handle(), i = index.handle();
        return Tensor.produce("psd_tensor_index_select", (s, r) -> psd_tensor_index_select(a, dim, i, r));
    }

    default Tensor gather(long dim, Tensor index) {
        MemorySegment a = handle(), i = index.handle();
        return Tensor.produce("psd_tensor_gather", (s, r) -> psd_tensor_gather(a, dim, i, r));
    }

    default Tensor[] chunk(long chunks, long dim) {
        return Tensor.pieces("psd_tensor_chunk", (s, out, cap, count) -> psd_tensor_chunk(handle(), chunks, dim, out, cap, count), chunks);
    }

    default Tensor[] split(long splitSize, long dim) {
        long pieces = Math.max(1, (size((int) dim) + splitSize - 1) / Math.max(1, splitSize));
        return Tensor.pieces("psd_tensor_split", (s, out, cap, count) -> psd_tensor_split(handle(), splitSize, dim, out, cap, count), pieces);
    }
}
