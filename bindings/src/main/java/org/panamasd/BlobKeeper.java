package org.panamasd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;

/**
 * Keeps caller memory that libtorch refers to reachable. Each wrapped segment gets a token; libtorch
 * calls back with it when its storage drops the last reference (after every view is gone), and only
 * then is the segment let go.
 */
final class BlobKeeper {
    private static final Map<Long, MemorySegment> LIVE = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT_TOKEN = new AtomicLong(1);

    static {
        Native.ensureLoaded();
        try {
            var target = MethodHandles.lookup().findStatic(BlobKeeper.class, "release", MethodType.methodType(void.class, long.class));
            MemorySegment stub = Linker.nativeLinker().upcallStub(target, FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG), Arena.global());
            Native.check(panamasd_h.psd_set_release_callback(stub), "psd_set_release_callback");
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Called by libtorch (any thread) when a wrapped storage is freed. Must not throw. */
    private static void release(long token) {
        LIVE.remove(token);
    }

    static int liveBlobs() {
        return LIVE.size();
    }

    static Tensor wrap(MemorySegment data, DType dtype, long[] shape, long[] strides) {
        if (!data.isNative()) throw new IllegalArgumentException("fromSegment needs native memory; a heap segment can move: copy it into an Arena first");
        // libtorch may write through any tensor (in-place ops): read-only memory would fault inside it
        if (data.isReadOnly()) throw new IllegalArgumentException("fromSegment needs writable memory: this segment is read-only (map the file copy-on-write, or copy it)");
        if (strides != null && strides.length != shape.length)
            throw new IllegalArgumentException("strides " + Arrays.toString(strides) + " do not match shape " + Arrays.toString(shape));
        long extent = 1;  // elements spanned: 1 + sum((size - 1) * stride)
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) throw new IllegalArgumentException("negative size in shape " + Arrays.toString(shape));
            numel *= shape[i];
            long stride = strides == null ? 1 : strides[i];
            if (stride < 0) throw new IllegalArgumentException("negative stride in " + Arrays.toString(strides));
            if (strides != null) extent += (shape[i] - 1) * stride;
        }
        if (strides == null) extent = numel;
        long needed = numel == 0 ? 0 : extent * dtype.elementSize();
        if (needed > data.byteSize())
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype + " needs " + needed
                    + " bytes but the segment has " + data.byteSize());
        if (data.address() % dtype.elementSize() != 0)
            throw new IllegalArgumentException("segment address " + data.address() + " is not aligned to " + dtype.elementSize() + " bytes");
        long token = NEXT_TOKEN.getAndIncrement();
        LIVE.put(token, data);
        try {
            return Tensor.produce("psd_tensor_from_blob", (s, r) -> panamasd_h.psd_tensor_from_blob(data, s.longs(shape), shape.length,
                    strides == null ? MemorySegment.NULL : s.longs(strides), dtype.code(), token, r));
        } catch (RuntimeException e) {
            LIVE.remove(token);
            throw e;
        }
    }

    private BlobKeeper() {}
}
