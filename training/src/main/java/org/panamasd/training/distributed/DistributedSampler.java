package org.panamasd.training.distributed;

/**
 * Shards each global batch by rank: every process draws the same global batch (the same step seed), and
 * trains on its own contiguous slice of it. So the samples of a step, and the randomness drawn for each, do
 * not depend on the world size, and a run at global batch B on N processes computes what one process does at
 * batch B (up to the order of floating-point sums). The global batch must divide evenly, so that averaging
 * the per-process mean losses gives the global mean.
 */
public record DistributedSampler(int rank, int worldSize) {
    public DistributedSampler {
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
            throw new IllegalArgumentException("rank " + rank + " is not in a world of " + worldSize + " processes");
    }

    public static final DistributedSampler SINGLE = new DistributedSampler(0, 1);

    /** The first index of this rank's slice of a global batch. */
    public int start(int globalBatch) {
        return rank * localBatch(globalBatch);
    }

    public int localBatch(int globalBatch) {
        if (globalBatch % worldSize != 0)
            throw new IllegalArgumentException("the global batch " + globalBatch + " does not divide into " + worldSize + " processes");
        return globalBatch / worldSize;
    }

    /** This rank's slice of the global batch's sample indices. */
    public int[] shard(int[] globalIndices) {
        int from = start(globalIndices.length);
        return java.util.Arrays.copyOfRange(globalIndices, from, from + localBatch(globalIndices.length));
    }
}
