package org.panamasd.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.panamasd.training.distributed.DistributedEnvironment;

/**
 * Starts the processes of a data-parallel run, as torchrun does: {@code --nproc N} JVMs on this machine, each
 * running the same command with its rank in the environment ({@link DistributedEnvironment}). Across
 * machines, each machine runs the command with {@code --nproc} (its process count), {@code --rank} (the rank
 * of its first process), {@code --world-size} (all processes of all machines) and the same
 * {@code --master-addr}/{@code --master-port} (where rank 0 serves the rendezvous store). When a process fails,
 * the others get the group's timeout to fail on their own (with their own message), then are stopped.
 */
public final class DistributedLauncher {
    /** The options that belong to the launcher, not to the command. */
    static final Set<String> OPTIONS = Set.of("nproc", "rank", "world-size", "master-addr", "master-port", "dist-timeout");
    /** The commands that can run data-parallel; any other would just run N times. */
    static final Set<String> COMMANDS = Set.of("train-t2i", "bench-train");
    private static final Duration GRACE = Duration.ofSeconds(10);

    /** One run's layout: ranks {@code firstRank .. firstRank + nproc - 1} of {@code worldSize} start here. */
    public record Plan(int nproc, int firstRank, int worldSize, String masterAddress, int masterPort, Duration timeout) {
        public Plan {
            if (nproc < 1) throw new IllegalArgumentException("--nproc must be >= 1, got " + nproc);
            if (firstRank < 0 || firstRank + nproc > worldSize)
                throw new IllegalArgumentException("ranks " + firstRank + ".." + (firstRank + nproc - 1) + " do not fit in --world-size " + worldSize);
        }

        DistributedEnvironment environment(int rank) {
            return new DistributedEnvironment(rank, worldSize, masterAddress, masterPort, timeout);
        }
    }

    /** Whether the arguments ask for a multi-process run. */
    static boolean requested(String[] args) {
        for (String a : args) if (a.startsWith("--") && OPTIONS.contains(a.substring(2))) return true;
        return false;
    }

    /** {@code panama-sd COMMAND ... --nproc N ...}: runs the command data-parallel; returns the exit status. */
    static int start(String[] commandLine) {
        try {
            return run(commandLine[0], java.util.Arrays.copyOfRange(commandLine, 1, commandLine.length));
        } catch (IllegalArgumentException e) {
            System.err.println("panama-sd: " + e.getMessage());
            return Failures.BAD_INPUT;
        } catch (IOException | InterruptedException e) {
            System.err.println("panama-sd: cannot run the processes: " + e);
            return Failures.FAILED;
        }
    }

    /** Runs {@code command} data-parallel as the launcher options in {@code args} say; returns the exit status. */
    static int run(String command, String[] args) throws IOException, InterruptedException {
        if (!COMMANDS.contains(command))
            throw new IllegalArgumentException(command + " does not run data-parallel (--nproc and the other launcher options work with: " + String.join(", ", COMMANDS) + ")");
        Split split = Split.of(command, args);
        Map<String, String> mine = split.launcher();
        int nproc = (int) number(mine, "nproc", 1);
        int worldSize = (int) number(mine, "world-size", nproc);
        String address = mine.getOrDefault("master-addr", "127.0.0.1");
        // A run on this machine alone takes any free port; machines that meet need an agreed one (torchrun's default).
        int port = mine.containsKey("master-port") ? (int) number(mine, "master-port", 0) : worldSize == nproc ? freePort() : 29500;
        Plan plan = new Plan(nproc, (int) number(mine, "rank", 0), worldSize, address, port,
                Duration.ofMillis((long) (1000 * number(mine, "dist-timeout", DistributedEnvironment.DEFAULT_TIMEOUT.toSeconds()))));
        List<String> commandLine = new ArrayList<>();
        commandLine.add(command);
        commandLine.addAll(split.command());
        return launch(Main.class.getName(), commandLine, plan, null);
    }

    /** A command's arguments without the launcher's options, and the launcher's options by name. */
    record Split(List<String> command, Map<String, String> launcher) {
        static Split of(String command, String[] args) {
            List<String> rest = new ArrayList<>();
            Map<String, String> mine = new LinkedHashMap<>();
            for (int i = 0; i < args.length; i++) {
                String name = args[i].startsWith("--") ? args[i].substring(2) : "";
                if (!OPTIONS.contains(name)) {
                    rest.add(args[i]);
                    continue;
                }
                if (i + 1 >= args.length) throw new IllegalArgumentException(command + ": --" + name + " needs a value");
                if (mine.containsKey(name)) throw new IllegalArgumentException(command + ": --" + name + " is given twice");
                mine.put(name, args[++i]);
            }
            return new Split(rest, mine);
        }
    }

    /**
     * Starts {@code mainClass args} once per local rank in JVMs like this one (same JVM options and class
     * path), waits for all, and returns 0 or the first failure's exit status. {@code logs}: null inherits this
     * process's output; otherwise rank r writes to {@code logs/rank-r.log}.
     */
    public static int launch(String mainClass, List<String> args, Plan plan, Path logs) throws IOException, InterruptedException {
        List<String> jvm = new ArrayList<>();
        jvm.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        jvm.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        jvm.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        jvm.addAll(args);
        List<Process> processes = new ArrayList<>();
        Thread stopAll = new Thread(() -> processes.forEach(Process::destroy));
        Runtime.getRuntime().addShutdownHook(stopAll);  // a stopped launcher stops its processes
        try {
            for (int local = 0; local < plan.nproc(); local++) {
                int rank = plan.firstRank() + local;
                ProcessBuilder builder = new ProcessBuilder(jvm);
                builder.environment().putAll(plan.environment(rank).variables());
                if (logs == null) builder.inheritIO();
                else builder.redirectErrorStream(true).redirectOutput(logs.resolve("rank-" + rank + ".log").toFile());
                processes.add(builder.start());
            }
            return supervise(processes, plan);
        } finally {
            processes.forEach(Process::destroyForcibly);
            Runtime.getRuntime().removeShutdownHook(stopAll);
        }
    }

    private static int supervise(List<Process> processes, Plan plan) throws InterruptedException {
        int status = 0;
        long deadline = Long.MAX_VALUE;
        while (processes.stream().anyMatch(Process::isAlive)) {
            for (int local = 0; local < processes.size(); local++) {
                Process p = processes.get(local);
                if (status == 0 && !p.isAlive() && p.exitValue() != 0) {
                    status = p.exitValue();
                    deadline = System.nanoTime() + plan.timeout().plus(GRACE).toNanos();
                    System.err.printf("panama-sd: rank %d exited with status %d; the others get %d s to fail on their own%n",
                            plan.firstRank() + local, status, plan.timeout().plus(GRACE).toSeconds());
                }
            }
            if (System.nanoTime() > deadline) {
                System.err.println("panama-sd: stopping the processes still running");
                processes.forEach(Process::destroyForcibly);
            }
            Thread.sleep(100);
        }
        if (status == 0) for (Process p : processes) if (p.exitValue() != 0) return p.exitValue();
        return status;
    }

    private static double number(Map<String, String> options, String name, double fallback) {
        String value = options.get(name);
        try {
            return value == null ? fallback : Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a number, got '" + value + "'");
        }
    }

    /** A port that is free now (the loopback rendezvous of a single-machine run). */
    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free port for the rendezvous; pass --master-port", e);
        }
    }

    private DistributedLauncher() {}
}
