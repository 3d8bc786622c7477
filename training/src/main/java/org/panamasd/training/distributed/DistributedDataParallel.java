package org.panamasd.training.distributed;

import java.util.List;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.distributed.GradientReducer;
import org.panamasd.distributed.ProcessGroup;

/**
 * Data-parallel training over a process group, as PyTorch's DistributedDataParallel: on construction every
 * process takes rank 0's parameters (so all start equal), and after each backward {@link #synchronizeGradients}
 * replaces every gradient by its average over the processes (bucketed all-reduces, started from gradient
 * hooks during backward when {@code overlap}), so every process's optimizer then takes the same step.
 * The group stays the caller's; this owns the reducer.
 */
public final class DistributedDataParallel implements AutoCloseable {
    /**
     * Smaller than PyTorch's 25 MiB: on CPUs with Gloo, 4 MiB buckets hid a third to a half of the all-reduce
     * behind backward, 25 MiB ones nothing measurable (docs/distributed.md's benchmark).
     */
    public static final long DEFAULT_BUCKET_BYTES = 4L << 20;

    private final ProcessGroup group;
    private final GradientReducer reducer;
    private final DistributedSampler sampler;
    private double waitSeconds, syncSeconds;
    private long steps;

    public DistributedDataParallel(ProcessGroup group, List<Tensor> parameters, long bucketBytes, boolean overlap) {
        this.group = group;
        this.sampler = new DistributedSampler(group.rank(), group.worldSize());
        group.broadcast(parameters, 0);
        this.reducer = group.gradientReducer(parameters, bucketBytes, overlap);
    }

    public DistributedDataParallel(ProcessGroup group, List<Tensor> parameters) {
        this(group, parameters, DEFAULT_BUCKET_BYTES, true);
    }

    public ProcessGroup group() {
        return group;
    }

    public DistributedSampler sampler() {
        return sampler;
    }

    /** Call once after each backward, before clipping and the optimizer step. */
    public void synchronizeGradients() {
        long start = System.nanoTime();
        waitSeconds += reducer.finish();
        syncSeconds += (System.nanoTime() - start) / 1e9;
        steps++;
    }

    /** The mean over the processes of a per-process value (e.g. the loss of each shard): one small all-reduce. */
    public double average(double value) {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.of(new double[] {value}, 1);
            group.allReduce(List.of(t), ProcessGroup.ReduceOp.SUM);
            return t.toDoubleArray()[0] / group.worldSize();
        }
    }

    /** Mean seconds per step that {@link #synchronizeGradients} waited for communication that backward did not hide. */
    public double meanWaitSeconds() {
        return steps == 0 ? 0 : waitSeconds / steps;
    }

    /** Mean seconds per step spent in {@link #synchronizeGradients} in all (waiting, averaging, copying into the gradients). */
    public double meanSyncSeconds() {
        return steps == 0 ? 0 : syncSeconds / steps;
    }

    /** Starts the timings afresh (e.g. after warm-up steps). */
    public void resetTimings() {
        waitSeconds = syncSeconds = 0;
        steps = 0;
    }

    public GradientReducer reducer() {
        return reducer;
    }

    @Override
    public void close() {
        reducer.close();
    }
}
