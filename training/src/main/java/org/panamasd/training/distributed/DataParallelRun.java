package org.panamasd.training.distributed;

import java.util.List;
import java.util.Optional;
import org.panamasd.Tensor;
import org.panamasd.distributed.ProcessGroup;

/**
 * A training command's part of a run: alone (no launcher environment), or one rank of a data-parallel run
 * (then it joins the group and wraps the parameters in {@link DistributedDataParallel}). Rank 0 is the leader:
 * it alone prints progress and writes checkpoints and models.
 */
public final class DataParallelRun implements AutoCloseable {
    private final ProcessGroup group;
    private final DistributedDataParallel ddp;

    private DataParallelRun(ProcessGroup group, DistributedDataParallel ddp) {
        this.group = group;
        this.ddp = ddp;
    }

    /**
     * Joins the run this process was started in, if any: {@code parameters} are trained (rank 0's values are
     * broadcast, gradients averaged), {@code state} is other state that must start equal (e.g. EMA copies),
     * broadcast once from rank 0.
     */
    public static DataParallelRun join(List<Tensor> parameters, List<Tensor> state) {
        return join(parameters, state, DistributedDataParallel.DEFAULT_BUCKET_BYTES, true);
    }

    /** {@link #join(List, List)} with the reducer's bucket size and whether it overlaps communication with backward. */
    public static DataParallelRun join(List<Tensor> parameters, List<Tensor> state, long bucketBytes, boolean overlap) {
        Optional<DistributedEnvironment> environment = DistributedEnvironment.fromEnvironment();
        if (environment.isEmpty()) return new DataParallelRun(null, null);
        ProcessGroup group = environment.get().join();
        try {
            if (!state.isEmpty()) group.broadcast(state, 0);
            return new DataParallelRun(group, new DistributedDataParallel(group, parameters, bucketBytes, overlap));
        } catch (RuntimeException e) {
            group.close();
            throw e;
        }
    }

    /** The data-parallel wrapper, or null for a run of one process. */
    public DistributedDataParallel ddp() {
        return ddp;
    }

    public int rank() {
        return group == null ? 0 : group.rank();
    }

    public int worldSize() {
        return group == null ? 1 : group.worldSize();
    }

    public boolean leader() {
        return rank() == 0;
    }

    /** Waits for every rank (e.g. until the leader has written a file the others read); nothing alone. */
    public void barrier() {
        if (group != null) group.barrier();
    }

    @Override
    public void close() {
        if (ddp != null) ddp.close();
        if (group != null) group.close();
    }
}
