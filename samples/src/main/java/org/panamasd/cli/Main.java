package org.panamasd.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The panama-sd command line: {@code panama-sd <command> [options]}, one picocli subcommand per class. Adding a
 * command is one line in {@code subcommands}. Every command inherits {@code --help} and {@code --version}; exit
 * codes are 0 on success, 2 for bad input (an unknown option, a bad value, a missing or malformed file) and 1 for
 * anything else ({@link Failures}).
 */
@Command(name = "panama-sd", scope = ScopeType.INHERIT, mixinStandardHelpOptions = true, versionProvider = Version.class,
        usageHelpAutoWidth = true, sortOptions = false,
        description = "Stable Diffusion and diffusion-model training for the JVM, over libtorch through FFM.",
        footer = {"", "Exit codes: 0 success, 2 bad input, 1 anything else. PANAMASD_DEBUG=1 prints stack traces."},
        subcommands = {
                InfoCommand.class,
                GenerateCommand.class,
                ServeCommand.class,
                InspectCommand.class,
                ConvertCommand.class,
                SampleCommand.class,
                EvaluateCommand.class,
                TrainDdpmCommand.class,
                TrainVaeCommand.class,
                TrainTextToImageCommand.class,
                TrainFeaturesCommand.class,
                TrainEvaluatorCommand.class,
                TrainAddCommand.class,
                TrainProgressiveCommand.class,
                TrainScoreCommand.class,
                BenchCommand.class,
                BenchSchedulerCommand.class,
                BenchTrainCommand.class,
                BenchModelCommand.class,
                BenchAttentionCommand.class,
                ProfileMemoryCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Main implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        // A data-parallel run (--nproc and the other launcher options) starts its processes before picocli parses
        // anything; each process then runs the command without those options.
        if (DistributedLauncher.requested(args)) System.exit(DistributedLauncher.start(args));
        System.exit(commandLine().execute(args));
    }

    /** The command line with this project's error reporting and exit codes; tests run it in-process with their own writers. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main())
                .setParameterExceptionHandler(Failures::badArguments)
                .setExecutionExceptionHandler(Failures::failed);
    }

    /** Runs {@code args} with output and errors going to the given writers; returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return commandLine().setOut(out).setErr(err).execute(args);
    }

    /** No command named: the usage, as an error (exit 2), since nothing was done. */
    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        err.println("panama-sd: name a command (see 'panama-sd --help')");
        spec.commandLine().usage(err);
        return Failures.BAD_INPUT;
    }
}
