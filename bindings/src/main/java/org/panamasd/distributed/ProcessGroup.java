package org.panamasd.distributed;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.panamasd.Reclaim;
import org.panamasd.Tensor;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;

/**
 * One process's membership of a group of processes that train together (libtorch's c10d): Gloo for CPU
 * tensors, NCCL for CUDA tensors when the shim was built against a CUDA libtorch. Every process of the group
 * must make the same collective calls in the same order; a collective that the others do not join within the
 * group's timeout (a process died or hangs) throws a {@link org.panamasd.TorchException} saying so, instead of
 * blocking forever. Owns native state: close it (a Cleaner frees it, with a warning, if it is dropped).
 */
public final class ProcessGroup implements AutoCloseable {
    public enum Backend {
        GLOO, NCCL;

        int code() {
            return this == GLOO ? PSD_DIST_GLOO() : PSD_DIST_NCCL();
        }
    }

    public enum ReduceOp {
        SUM, MIN, MAX;

        int code() {
            return switch (this) {
                case SUM -> PSD_DIST_SUM();
                case MIN -> PSD_DIST_MIN();
                case MAX -> PSD_DIST_MAX();
            };
        }
    }

    private volatile MemorySegment handle;
    private final java.lang.ref.Cleaner.Cleanable cleanable;
    private final int rank, worldSize;
    private final Duration timeout;

    private ProcessGroup(MemorySegment handle, int rank, int worldSize, Duration timeout) {
        this.handle = handle;
        this.rank = rank;
        this.worldSize = worldSize;
        this.timeout = timeout;
        this.cleanable = Reclaim.register(this, "ProcessGroup", () -> psd_dist_free(handle));
    }

    /** Whether this shim has the backend (a shim built without c10d has none). */
    public static boolean available(Backend backend) {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(1);
        Native.check(psd_dist_available(backend.code(), ret), "psd_dist_available");
        return ret.get(ValueLayout.JAVA_BOOLEAN, 0);
    }

    /**
     * Joins a group through a TCP store that rank 0 serves on {@code host:port} (rank 0 creates it, so the
     * port must be free there); blocks until all {@code worldSize} processes joined, at most {@code timeout},
     * which also bounds every later collective.
     */
    public static ProcessGroup tcp(Backend backend, String host, int port, int rank, int worldSize, Duration timeout) {
        return create(backend, PSD_DIST_STORE_TCP(), host, port, rank, worldSize, timeout);
    }

    public static ProcessGroup tcp(String host, int port, int rank, int worldSize, Duration timeout) {
        return tcp(Backend.GLOO, host, port, rank, worldSize, timeout);
    }

    /** Joins a group through a file that every process sees (a shared file system instead of a TCP port). */
    public static ProcessGroup file(Backend backend, Path file, int rank, int worldSize, Duration timeout) {
        return create(backend, PSD_DIST_STORE_FILE(), file.toAbsolutePath().toString(), 0, rank, worldSize, timeout);
    }

    private static ProcessGroup create(Backend backend, int store, String address, int port, int rank, int worldSize, Duration timeout) {
        Native.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ret = ThreadState.get().reset().pointer();
            Native.check(psd_dist_new(backend.code(), store, arena.allocateFrom(address), port, rank, worldSize, timeout.toMillis(), ret),
                    "psd_dist_new(" + backend + ", " + address + (store == PSD_DIST_STORE_TCP() ? ":" + port : "") + ", rank " + rank + " of " + worldSize + ")");
            return new ProcessGroup(ret.get(ValueLayout.ADDRESS, 0), rank, worldSize, timeout);
        }
    }

    public int rank() {
        return rank;
    }

    public int worldSize() {
        return worldSize;
    }

    public Duration timeout() {
        return timeout;
    }

    MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("process group is closed");
        return handle;
    }

    private interface ListCall {
        int invoke(MemorySegment array, long count);
    }

    /** Passes the tensors' handles as one array; tensors of one dtype and device, flattened into one collective. */
    private static void onList(List<Tensor> tensors, String name, ListCall call) {
        if (tensors.isEmpty()) throw new IllegalArgumentException(name + " needs at least one tensor");
        ThreadState state = ThreadState.get().reset();
        MemorySegment array = state.allocate(8L * tensors.size());
        for (int i = 0; i < tensors.size(); i++) array.setAtIndex(ValueLayout.ADDRESS, i, tensors.get(i).handle());
        Native.check(call.invoke(array, tensors.size()), name);
    }

    /** Reduces the tensors over the group, in place (every process ends with the same values). */
    public void allReduce(List<Tensor> tensors, ReduceOp op) {
        MemorySegment h = handle();
        onList(tensors, "psd_dist_all_reduce", (a, n) -> psd_dist_all_reduce(h, a, n, op.code()));
    }

    /** Overwrites the tensors, in place, with rank {@code root}'s values. */
    public void broadcast(List<Tensor> tensors, int root) {
        MemorySegment h = handle();
        onList(tensors, "psd_dist_broadcast", (a, n) -> psd_dist_broadcast(h, a, n, root));
    }

    /** Returns when every process of the group has called it. */
    public void barrier() {
        Native.check(psd_dist_barrier(handle()), "psd_dist_barrier");
    }

    /** Averages the given parameters' gradients over the group after each backward; see {@link GradientReducer}. */
    public GradientReducer gradientReducer(List<Tensor> params, long bucketBytes, boolean overlap) {
        return GradientReducer.create(this, params, bucketBytes, overlap);
    }

    @Override
    public synchronized void close() {
        if (handle != null) cleanable.clean();
        handle = null;
    }
}
