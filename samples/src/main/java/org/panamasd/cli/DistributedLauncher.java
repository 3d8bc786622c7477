package org.panamasd.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.panamasd.training.distributed.DistributedEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
    static final Set<String> OPTIONS = java.util.stream.Stream.of(Options.class.getDeclaredFields())
            .filter(f -> f.isAnnotationPresent(Option.class)).map(f -> f.getAnnotation(Option.class).names()[0].substring(2))
            .collect(java.util.stream.Collectors.toUnmodifiableSet());
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

    /** Whether the arguments ask for a multi-process run ({@code --nproc 2} or {@code --nproc=2}, and the others). */
    static boolean requested(String[] args) {
        for (String a : args) {
            if (!a.startsWith("--")) continue;
            int equals = a.indexOf('=');
            if (OPTIONS.contains(equals < 0 ? a.substring(2) : a.substring(2, equals))) return true;
        }
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
        Options mine = split.launcher();
        int nproc = mine.nproc;
        int worldSize = mine.worldSize != null ? mine.worldSize : nproc;
        // A run on this machine alone takes any free port; machines that meet need an agreed one (torchrun's default).
        int port = mine.masterPort != null ? mine.masterPort : worldSize == nproc ? freePort() : 29500;
        if (port < 1 || port > 65535) throw new IllegalArgumentException(command + ": --master-port must be in 1..65535, got " + port);
        if (!(mine.distTimeout > 0)) throw new IllegalArgumentException(command + ": --dist-timeout must be > 0 seconds, got " + mine.distTimeout);
        Plan plan = new Plan(nproc, mine.rank, worldSize, mine.masterAddr, port, Duration.ofMillis((long) (1000 * mine.distTimeout)));
        List<String> commandLine = new ArrayList<>();
        commandLine.add(command);
        commandLine.addAll(split.command());
        return launch(Main.class.getName(), commandLine, plan, null);
    }

    /** The launcher's own options, parsed by picocli ({@code --nproc=2} and {@code --nproc 2} alike; {@code 2.7} refused). */
    @Command(name = "launcher")
    static final class Options {
        @Option(names = "--nproc") int nproc = 1;
        @Option(names = "--rank") int rank = 0;
        @Option(names = "--world-size") Integer worldSize;
        @Option(names = "--master-addr") String masterAddr = "127.0.0.1";
        @Option(names = "--master-port") Integer masterPort;
        @Option(names = "--dist-timeout") double distTimeout = DistributedEnvironment.DEFAULT_TIMEOUT.toSeconds();
    }

    /** A command's arguments without the launcher's options, in their order, and the launcher's options. */
    record Split(List<String> command, Options launcher) {
        static Split of(String command, String[] args) {
            Options options = new Options();
            CommandLine parser = new CommandLine(options).setUnmatchedArgumentsAllowed(true).setOverwrittenOptionsAllowed(false)
                    .setUnmatchedOptionsArePositionalParams(true);
            try {
                parser.parseArgs(args);
            } catch (CommandLine.ParameterException e) {
                throw new IllegalArgumentException(command + ": " + e.getMessage());
            }
            return new Split(List.copyOf(parser.getUnmatchedArguments()), options);
        }
    }

    /**
     * The JVM options a rank inherits from the launcher: all but those that name one process's own resource
     * (a debugger's port, a flight recording's or a log's file), which the ranks would fight over.
     */
    public static List<String> inheritedJvmOptions(List<String> launcherOptions) {
        return launcherOptions.stream().filter(o -> !(o.startsWith("-agentlib:jdwp") || o.startsWith("-Xrunjdwp") || o.equals("-Xdebug")
                || o.startsWith("-XX:StartFlightRecording") || o.startsWith("-XX:FlightRecorderOptions") || (o.startsWith("-Xlog") && o.contains("file="))
                || o.startsWith("-XX:HeapDumpPath") || o.startsWith("-XX:ErrorFile"))).toList();
    }

    /**
     * Starts {@code mainClass args} once per local rank in JVMs like this one (same JVM options and class
     * path), waits for all, and returns 0 or the first failure's exit status. {@code logs}: null inherits this
     * process's output; otherwise rank r writes to {@code logs/rank-r.log}.
     */
    public static int launch(String mainClass, List<String> args, Plan plan, Path logs) throws IOException, InterruptedException {
        List<String> jvm = new ArrayList<>();
        jvm.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        jvm.addAll(inheritedJvmOptions(ManagementFactory.getRuntimeMXBean().getInputArguments()));
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
