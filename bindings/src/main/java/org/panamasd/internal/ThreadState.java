package org.panamasd.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Per-thread state of the bridge, behind one thread-local look-up per op: the innermost open scope and a
 * scratch buffer for out-parameters and shape arrays, so that an op allocates no native memory of its own.
 */
public final class ThreadState {
    private static final ThreadLocal<ThreadState> CURRENT = ThreadLocal.withInitial(ThreadState::new);
    private static final long SCRATCH_BYTES = 1 << 16;

    /** The innermost open scope of this thread (its state object), or null. */
    public Object scope;

    private final MemorySegment scratch = Arena.ofAuto().allocate(SCRATCH_BYTES, 16);
    private long used;

    public static ThreadState get() {
        return CURRENT.get();
    }

    /** Starts a call: all scratch memory is free again. */
    public ThreadState reset() {
        used = 0;
        return this;
    }

    public MemorySegment allocate(long bytes) {
        long aligned = (bytes + 15) & ~15L;
        if (used + aligned > SCRATCH_BYTES)
            throw new IllegalArgumentException("arguments of one call exceed " + SCRATCH_BYTES + " bytes of scratch memory");
        MemorySegment slice = scratch.asSlice(used, bytes);
        used += aligned;
        return slice;
    }

    /** One pointer-sized out-parameter, zeroed. */
    public MemorySegment pointer() {
        MemorySegment slot = allocate(8);
        slot.set(ValueLayout.JAVA_LONG, 0, 0L);
        return slot;
    }

    public MemorySegment longs(long... values) {
        if (values.length == 0) return MemorySegment.NULL;
        MemorySegment segment = allocate(8L * values.length);
        MemorySegment.copy(values, 0, segment, ValueLayout.JAVA_LONG, 0, values.length);
        return segment;
    }

    private ThreadState() {}
}
