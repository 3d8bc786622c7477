package org.panamasd.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * Per-thread state of the bridge, behind one thread-local look-up per op: the innermost open scope, the
 * tensors pinned by the native call in progress, and a scratch buffer for out-parameters and shape arrays,
 * so that an op allocates no native memory of its own.
 *
 * <p>The scope stack and the pins live in a {@link Stack} that a {@link Cleaner} action also holds: when a
 * thread ends with scopes still open (its thread-locals are dropped), the action closes them and reports
 * what they held, instead of leaking it silently.
 */
public final class ThreadState {
    private static final ThreadLocal<ThreadState> CURRENT = ThreadLocal.withInitial(ThreadState::new);
    private static final long SCRATCH_BYTES = 1 << 16;
    /** Virtual threads are many and short: they start with a small scratch buffer that grows on demand. */
    private static final long VIRTUAL_SCRATCH_BYTES = 1 << 10;
    public static final Cleaner CLEANER = Cleaner.create();
    private static volatile ThreadEndHandler threadEndHandler;

    /** Releases what a native call pinned (a tensor shared between threads); set once by the Tensor API. */
    public interface Unpinner {
        void unpin(Object pinned);
    }

    private static volatile Unpinner unpinner;

    /** Closes the scopes a dead thread left open (set by the Tensor API, which knows what a scope is). */
    public interface ThreadEndHandler {
        void threadEnded(String threadName, Object innermostScope);
    }

    /** What outlives the ThreadState object for the thread-end action: the scope stack and the pins. */
    public static final class Stack {
        /** The innermost open scope of this thread (its state object), or null. */
        public Object scope;
        private Object[] pins = new Object[8];
        private int pinCount;

        void unpinAll() {
            Unpinner u = unpinner;
            while (pinCount > 0) {
                Object p = pins[--pinCount];
                pins[pinCount] = null;
                u.unpin(p);
            }
        }
    }

    public final Stack stack = new Stack();

    // Owned by an automatic arena, so a dead thread's buffer is reclaimed by the GC; calls go through a
    // global-scope alias of the same memory, because a downcall would otherwise acquire and release the
    // automatic arena's shared session (two atomic operations) on every op.
    private MemorySegment owner;
    private MemorySegment scratch;
    private MemorySegment[] retired = new MemorySegment[0];  // smaller buffers still referenced by this call
    private long used;

    public static ThreadState get() {
        return CURRENT.get();
    }

    public static void onThreadEnd(ThreadEndHandler handler) {
        threadEndHandler = handler;
    }

    public static void setUnpinner(Unpinner u) {
        unpinner = u;
    }

    /** Starts a call: all scratch memory is free again. */
    public ThreadState reset() {
        used = 0;
        if (retired.length > 0) retired = new MemorySegment[0];
        return this;
    }

    /** Remembers that the call in progress uses {@code pinned}; {@link #unpinAll} lets it go. */
    public void pin(Object pinned) {
        Stack s = stack;
        if (s.pinCount == s.pins.length) s.pins = Arrays.copyOf(s.pins, s.pinCount * 2);
        s.pins[s.pinCount++] = pinned;
    }

    /** Ends the native call in progress: everything it pinned is released (a close that waited on it completes). */
    public void unpinAll() {
        if (stack.pinCount > 0) stack.unpinAll();
    }

    /** {@link #unpinAll} for the calling thread. */
    public static void unpinCurrent() {
        CURRENT.get().unpinAll();
    }

    public MemorySegment allocate(long bytes) {
        long aligned = (bytes + 15) & ~15L;
        if (used + aligned > SCRATCH_BYTES)
            throw new IllegalArgumentException("arguments of one call exceed " + SCRATCH_BYTES + " bytes of scratch memory");
        if (used + aligned > scratch.byteSize()) grow(used + aligned);
        MemorySegment slice = scratch.asSlice(used, bytes);
        used += aligned;
        return slice;
    }

    private void grow(long needed) {
        // slices already handed out for this call stay valid: the old buffer is kept until the next reset
        retired = Arrays.copyOf(retired, retired.length + 1);
        retired[retired.length - 1] = owner;
        long size = Math.min(SCRATCH_BYTES, Math.max(needed, scratch.byteSize() * 4));
        MemorySegment bigger = Arena.ofAuto().allocate(size, 16);
        MemorySegment alias = MemorySegment.ofAddress(bigger.address()).reinterpret(size);
        owner = bigger;
        scratch = alias;
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

    private ThreadState() {
        long size = Thread.currentThread().isVirtual() ? VIRTUAL_SCRATCH_BYTES : SCRATCH_BYTES;
        owner = Arena.ofAuto().allocate(size, 16);
        scratch = MemorySegment.ofAddress(owner.address()).reinterpret(size);
        Stack s = stack;
        String name = Thread.currentThread().getName();
        CLEANER.register(this, () -> threadEnded(name, s));
    }

    private static void threadEnded(String name, Stack s) {
        s.unpinAll();
        ThreadEndHandler handler = threadEndHandler;
        if (s.scope != null && handler != null) handler.threadEnded(name, s.scope);
    }
}
