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

    // Owned by an automatic arena, so a dead thread's buffer is reclaimed by the GC; calls go through a
    // global-scope alias of the same memory, because a downcall would otherwise acquire and release the
    // automatic arena's shared session (two atomic operations) on every op.
    private final MemorySegment owner = Arena.ofAuto().allocate(SCRATCH_BYTES, 16);
    private final MemorySegment scratch = MemorySegment.ofAddress(owner.address()).reinterpret(SCRATCH_BYTES);
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
