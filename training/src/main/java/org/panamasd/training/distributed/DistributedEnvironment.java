package org.panamasd.training.distributed;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.panamasd.distributed.ProcessGroup;

/**
 * Where this process stands in a multi-process run: its rank, the world size and the rendezvous address,
 * from environment variables (the launcher sets them for each process it starts; another launcher, e.g. a
 * cluster's job script, can set them too).
 */
public record DistributedEnvironment(int rank, int worldSize, String masterAddress, int masterPort, Duration timeout) {
    public static final String RANK = "PANAMASD_RANK", WORLD_SIZE = "PANAMASD_WORLD_SIZE", MASTER_ADDR = "PANAMASD_MASTER_ADDR",
            MASTER_PORT = "PANAMASD_MASTER_PORT", TIMEOUT_SECONDS = "PANAMASD_DIST_TIMEOUT";
    /** Long enough for rank 0 to write a checkpoint while the others wait in the next step's all-reduce. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    public DistributedEnvironment {
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
            throw new IllegalArgumentException("rank " + rank + " is not in a world of " + worldSize + " processes");
        if (masterPort < 1 || masterPort > 65535) throw new IllegalArgumentException("master port must be in 1..65535, got " + masterPort);
    }

    /** The environment's settings, or empty when this process was not started as part of a multi-process run. */
    public static Optional<DistributedEnvironment> fromEnvironment() {
        return from(System.getenv());
    }

    static Optional<DistributedEnvironment> from(Map<String, String> env) {
        if (!env.containsKey(WORLD_SIZE)) return Optional.empty();
        for (String required : new String[] {RANK, MASTER_ADDR, MASTER_PORT})
            if (!env.containsKey(required)) throw new IllegalArgumentException(WORLD_SIZE + " is set but " + required + " is not");
        Duration timeout = env.containsKey(TIMEOUT_SECONDS) ? Duration.ofMillis((long) (1000 * number(env, TIMEOUT_SECONDS))) : DEFAULT_TIMEOUT;
        return Optional.of(new DistributedEnvironment((int) number(env, RANK), (int) number(env, WORLD_SIZE), env.get(MASTER_ADDR),
                (int) number(env, MASTER_PORT), timeout));
    }

    private static double number(Map<String, String> env, String name) {
        try {
            return Double.parseDouble(env.get(name));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number, got '" + env.get(name) + "'");
        }
    }

    /** The variables that put a child process at {@code rank} of this run. */
    public Map<String, String> variables() {
        return Map.of(RANK, "" + rank, WORLD_SIZE, "" + worldSize, MASTER_ADDR, masterAddress, MASTER_PORT, "" + masterPort,
                TIMEOUT_SECONDS, "" + timeout.toMillis() / 1000.0);
    }

    /** Joins the Gloo group of this run (blocks until every rank has joined, at most the timeout). */
    public ProcessGroup join() {
        return ProcessGroup.tcp(masterAddress, masterPort, rank, worldSize, timeout);
    }
}
