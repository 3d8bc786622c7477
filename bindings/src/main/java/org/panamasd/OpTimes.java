package org.panamasd;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Wall time spent inside each kind of native op call, for profiles (bench-model's time share per op family).
 * Off by default: each op then pays one read of a static field ({@link OpHooks}). When on, the typed Tensor API's calls
 * ({@code psd_tensor_*}, named by shim function) and boxed {@link Op} calls (named by operator) record the
 * time from the call to its return on the calling thread. On CPU that is the op's compute time (libtorch's
 * intra-op threads work inside the call); on CUDA it would only be the launch. Calls that return no tensor
 * (metadata, in-place copies) and the bridge's own work around a call are not timed.
 */
public final class OpTimes {
    private static final Map<String, Entry> ENTRIES = new ConcurrentHashMap<>();

    private OpTimes() {}

    /** Calls and total nanoseconds of one op name. */
    public record Stat(long calls, long nanos) {}

    private static final class Entry {
        final LongAdder calls = new LongAdder(), nanos = new LongAdder();
    }

    /** Clears what was recorded and starts recording. */
    public static void start() {
        ENTRIES.clear();
        OpHooks.set(OpHooks.TIMES, true);
    }

    /** Stops recording and returns what was recorded since {@link #start()}, by op name. */
    public static Map<String, Stat> stop() {
        OpHooks.set(OpHooks.TIMES, false);
        Map<String, Stat> result = new TreeMap<>();
        ENTRIES.forEach((name, e) -> result.put(name, new Stat(e.calls.sum(), e.nanos.sum())));
        return result;
    }

    public static boolean recording() {
        return (OpHooks.active & OpHooks.TIMES) != 0;
    }

    /** Records one call of {@code name} that began at {@code startNanos} (System.nanoTime). */
    static void record(String name, long startNanos) {
        long elapsed = System.nanoTime() - startNanos;
        Entry e = ENTRIES.computeIfAbsent(name, k -> new Entry());
        e.calls.increment();
        e.nanos.add(elapsed);
    }
}
