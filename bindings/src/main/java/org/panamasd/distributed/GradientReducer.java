package org.panamasd.distributed;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.panamasd.Reclaim;
import org.panamasd.Tensor;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;

/**
 * Averages parameter gradients over a process group in buckets (one flat all-reduce per bucket of about
 * {@code bucketBytes}). With overlap, gradient hooks copy each gradient into its bucket during backward and
 * start a bucket's all-reduce as soon as it is full, so communication runs while backward computes the
 * earlier layers; {@link #finish} then waits for the rest. Use: one backward per step, then {@code finish()},
 * then the optimizer. Owns native state (the hooks are removed on close).
 */
public final class GradientReducer implements AutoCloseable {
    private volatile MemorySegment handle;
    private final java.lang.ref.Cleaner.Cleanable cleanable;

    private GradientReducer(MemorySegment handle) {
        this.handle = handle;
        this.cleanable = Reclaim.register(this, "GradientReducer", () -> psd_dist_reducer_free(handle));
    }

    static GradientReducer create(ProcessGroup group, List<Tensor> params, long bucketBytes, boolean overlap) {
        if (params.isEmpty()) throw new IllegalArgumentException("a gradient reducer needs at least one parameter");
        ThreadState state = ThreadState.get().reset();
        MemorySegment array = state.allocate(8L * params.size());
        for (int i = 0; i < params.size(); i++) array.setAtIndex(ValueLayout.ADDRESS, i, params.get(i).handle());
        MemorySegment ret = state.pointer();
        Native.check(psd_dist_reducer_new(group.handle(), array, params.size(), bucketBytes, overlap, ret), "psd_dist_reducer_new");
        return new GradientReducer(ret.get(ValueLayout.ADDRESS, 0));
    }

    private MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("gradient reducer is closed");
        return handle;
    }

    /** Completes this step's averaging into the parameters' gradients; returns the seconds spent waiting for communication. */
    public double finish() {
        MemorySegment waited = ThreadState.get().reset().allocate(8);
        Native.check(psd_dist_reducer_finish(handle(), waited), "psd_dist_reducer_finish");
        return waited.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    /** How many buckets there are. */
    public long buckets() {
        return stats()[0];
    }

    /** How many buckets the last step's backward started before {@link #finish} (0 without overlap). */
    public long startedDuringBackward() {
        return stats()[1];
    }

    private long[] stats() {
        ThreadState state = ThreadState.get().reset();
        MemorySegment buckets = state.allocate(8), early = state.allocate(8);
        Native.check(psd_dist_reducer_stats(handle(), buckets, early), "psd_dist_reducer_stats");
        return new long[] {buckets.get(ValueLayout.JAVA_LONG, 0), early.get(ValueLayout.JAVA_LONG, 0)};
    }

    @Override
    public synchronized void close() {
        if (handle != null) cleanable.clean();
        handle = null;
    }
}
