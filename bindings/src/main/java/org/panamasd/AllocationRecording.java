package org.panamasd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;
import org.panamasd.internal.psd_alloc_event;

/**
 * A recording of every allocation and free of the counting CPU allocator, each with its time, size, address,
 * and the module and op that were running ({@link ModulePath}). The shim keeps the events in memory of its own
 * (malloc'd, outside the counting allocator), so recording adds nothing to the bytes it records. One recording
 * runs at a time in a process; module tracking is on while it runs (and as it was before once it ends).
 */
public final class AllocationRecording implements AutoCloseable {
    private static final long READ_CHUNK = 1 << 16;
    private static volatile AllocationRecording running;

    private final long startNanos;
    private final long allocatedAtStart;
    private final boolean trackedBefore;  // module tracking as it was before: restored at the end
    private final java.util.List<TensorNote> notes = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    private boolean stopped;

    /** A tensor the bridge adopted while recording: where its data starts, its shape and dtype, and when. */
    public record TensorNote(long timeNanos, long address, long[] shape, String dtype) {}

    /** Notes a tensor an op returned, so the allocation at its address can be described by shape and dtype. */
    static void noteTensor(Tensor tensor) {
        AllocationRecording r = running;
        if (r == null || r.stopped) return;
        long address;
        try {
            address = tensor.address();
        } catch (TorchException noStorage) {  // an opaque tensor (a oneDNN prepacked weight): nothing to describe by address
            return;
        }
        r.notes.add(new TensorNote(System.nanoTime(), address, tensor.shape(), tensor.dtype().name().toLowerCase()));
    }

    private AllocationRecording(long startNanos, long allocatedAtStart, boolean trackedBefore) {
        this.startNanos = startNanos;
        this.allocatedAtStart = allocatedAtStart;
        this.trackedBefore = trackedBefore;
    }

    /**
     * Starts recording, with room for {@code capacity} events (32 bytes each, reserved now); events beyond it are
     * dropped and counted in {@link Events#dropped()}.
     */
    public static synchronized AllocationRecording start(long capacity) {
        Native.ensureLoaded();
        if (running != null) throw new IllegalStateException("an allocation recording is already running");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment allocated = arena.allocate(ValueLayout.JAVA_LONG);
            long start = System.nanoTime();
            Native.check(panamasd_h.psd_alloc_record_start(capacity, allocated), "psd_alloc_record_start");
            running = new AllocationRecording(start, allocated.get(ValueLayout.JAVA_LONG, 0), ModulePath.tracking());
        }
        ModulePath.track(true);
        return running;
    }

    /**
     * The recorded events as columns, in the order the allocator saw them; {@code bytes} is positive for an
     * allocation and negative for a free. {@code allocatedAtStart} is what the allocator held when the recording
     * began (its allocations are not in the events; frees of them are). {@code tensors} are the tensors the bridge
     * adopted meanwhile, in order.
     */
    public record Events(long startNanos, long stopNanos, long allocatedAtStart, long[] timeNanos, long[] address, long[] bytes,
                         int[] module, int[] op, long dropped, java.util.List<TensorNote> tensors) {
        public int size() {
            return timeNanos.length;
        }

        /** The module path of event {@code i} ("" when none was running). */
        public String modulePath(int i) {
            return ModulePath.path(module[i]);
        }

        /** The op of event {@code i} ("" when none), as the bridge names it (shim function or ATen operator). */
        public String opName(int i) {
            return ModulePath.op(op[i]);
        }
    }

    /** Stops recording and returns the events (the shim's copy is freed). */
    public synchronized Events stop() {
        if (stopped) throw new IllegalStateException("the recording was stopped already");
        stopped = true;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment counts = arena.allocate(ValueLayout.JAVA_LONG, 2);
            Native.check(panamasd_h.psd_alloc_record_stop(counts, counts.asSlice(8)), "psd_alloc_record_stop");
            long stop = System.nanoTime();
            ModulePath.track(trackedBefore);
            long n = counts.get(ValueLayout.JAVA_LONG, 0), dropped = counts.get(ValueLayout.JAVA_LONG, 8);
            if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException("too many events to read: " + n);
            int size = (int) n;
            long[] time = new long[size], address = new long[size], bytes = new long[size];
            int[] module = new int[size], op = new int[size];
            MemorySegment buffer = psd_alloc_event.allocateArray(READ_CHUNK, arena);
            MemorySegment copied = arena.allocate(ValueLayout.JAVA_LONG);
            long eventSize = psd_alloc_event.sizeof();
            for (int offset = 0; offset < size; ) {
                Native.check(panamasd_h.psd_alloc_record_read(buffer, offset, READ_CHUNK, copied), "psd_alloc_record_read");
                int got = (int) copied.get(ValueLayout.JAVA_LONG, 0);
                if (got <= 0) throw new IllegalStateException("the recording ended at event " + offset + " of " + size);
                for (int i = 0; i < got; i++) {
                    MemorySegment e = buffer.asSlice(i * eventSize, eventSize);
                    // threads that race for slots can take them a few ns out of clock order: times are kept monotonic
                    time[offset + i] = Math.max(psd_alloc_event.time_ns(e), offset + i > 0 ? time[offset + i - 1] : Long.MIN_VALUE);
                    address[offset + i] = psd_alloc_event.address(e);
                    bytes[offset + i] = psd_alloc_event.bytes(e);
                    module[offset + i] = psd_alloc_event.module(e);
                    op[offset + i] = psd_alloc_event.op(e);
                }
                offset += got;
            }
            return new Events(startNanos, stop, allocatedAtStart, time, address, bytes, module, op, dropped, java.util.List.copyOf(notes));
        } finally {
            close();
        }
    }

    /** Stops (if running) and frees the shim's events. */
    @Override
    public synchronized void close() {
        synchronized (AllocationRecording.class) {  // a start on another thread waits until the shim's events are freed
            if (running != this) return;
            running = null;
            ModulePath.track(trackedBefore);
            Native.check(panamasd_h.psd_alloc_record_clear(), "psd_alloc_record_clear");
        }
    }
}
