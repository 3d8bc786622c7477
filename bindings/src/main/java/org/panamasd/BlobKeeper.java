package org.panamasd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;

/**
 * Keeps caller memory that libtorch refers to alive. Each wrapped segment gets a token; when libtorch's
 * storage drops its last reference (after every view is gone), the shim queues the token, on whatever
 * thread that happened (a libtorch worker, or process exit: no call back into the JVM from there), and the
 * keeper lets the segment go when it next drains the queue: on the next wrap, on a detached scope's close,
 * and when asked for its count.
 *
 * <p>Only memory whose lifetime the keeper controls is accepted: a segment of the global arena, or of an
 * automatic arena (which stays alive exactly as long as the keeper keeps the segment reachable). A confined
 * or shared arena can be closed by its owner while libtorch still reads the memory, so it is refused.
 */
final class BlobKeeper {
    private static final Map<Long, MemorySegment> LIVE = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT_TOKEN = new AtomicLong(1);
    private static final int DRAIN_BATCH = 256;
    /** Scope kinds that no one can close: the global one (also that of raw addresses) and automatic ones. */
    private static final Set<Class<?>> UNCLOSABLE_SCOPES = Set.copyOf(java.util.List.of(Arena.global().scope().getClass(),
            MemorySegment.ofAddress(16).scope().getClass(), Arena.ofAuto().scope().getClass()));

    static {
        Native.ensureLoaded();
        // a callback another program set would call into it; ours is the queue
        Native.check(panamasd_h.psd_set_release_callback(MemorySegment.NULL), "psd_set_release_callback");
    }

    static int liveBlobs() {
        drain();
        return LIVE.size();
    }

    static void drainIfAny() {
        if (!LIVE.isEmpty()) drain();
    }

    private static void drain() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment tokens = arena.allocate(ValueLayout.JAVA_LONG, DRAIN_BATCH);
            MemorySegment count = arena.allocate(ValueLayout.JAVA_LONG);
            long n;
            do {
                Native.check(panamasd_h.psd_blob_drain_released(tokens, DRAIN_BATCH, count), "psd_blob_drain_released");
                n = count.get(ValueLayout.JAVA_LONG, 0);
                for (int i = 0; i < n; i++) LIVE.remove(tokens.getAtIndex(ValueLayout.JAVA_LONG, i));
            } while (n == DRAIN_BATCH);
        }
    }

    static Tensor wrap(MemorySegment data, DType dtype, long[] shape, long[] strides) {
        if (!data.isNative()) throw new IllegalArgumentException("fromSegment needs native memory; a heap segment can move: copy it into an Arena first");
        // libtorch may write through any tensor (in-place ops): read-only memory would fault inside it
        if (data.isReadOnly()) throw new IllegalArgumentException("fromSegment needs writable memory: this segment is read-only (map the file copy-on-write, or copy it)");
        if (!UNCLOSABLE_SCOPES.contains(data.scope().getClass()))
            throw new IllegalArgumentException("fromSegment needs memory that cannot be freed under libtorch: this segment's arena ("
                    + data.scope().getClass().getSimpleName() + ") can be closed while tensors still refer to it; allocate it from"
                    + " Arena.ofAuto() or Arena.global(), or copy it into a tensor (Tensor.empty(...).data())");
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
        drainIfAny();
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
