package org.panamasd.cli;

import java.io.FileNotFoundException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * How a failed command reports: one line on stderr, {@code panama-sd COMMAND: what}, a stack trace only with
 * PANAMASD_DEBUG set, and the exit code: 2 for bad input, 1 for anything else.
 */
final class Failures {
    static final int BAD_INPUT = 2, FAILED = 1;

    private Failures() {}

    /** The arguments did not parse: an unknown option, a missing or malformed value. */
    static int badArguments(ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        String name = cmd.getCommandSpec().qualifiedName();
        // picocli checks required options before it reports unknown ones; an unknown option is the likelier mistake
        if (!(e instanceof UnmatchedArgumentException) && !cmd.getUnmatchedArguments().isEmpty())
            e = new UnmatchedArgumentException(cmd, cmd.getUnmatchedArguments());
        String message = e instanceof UnmatchedArgumentException unmatched ? unmatched(unmatched) : oneLine(e.getMessage());
        PrintWriter err = cmd.getErr();
        err.println(name + ": " + message + " (see '" + name + " --help')");
        debug(e, err);
        return BAD_INPUT;
    }

    /**
     * Names what was not understood: the unknown options (not the values after them, which picocli also lists:
     * "--step 50" is one mistake), else the first stray argument or unknown command.
     */
    private static String unmatched(UnmatchedArgumentException e) {
        String first = e.getUnmatched().getFirst();
        if (!e.getCommandLine().getSubcommands().isEmpty() && !first.startsWith("-")) {
            List<String> commands = e.getSuggestions();
            return "unknown command '" + first + "'" + (commands.isEmpty() ? "" : " (did you mean " + commands.getFirst() + "?)");
        }
        List<String> options = e.getUnmatched().stream().filter(a -> a.startsWith("-")).map(a -> a.split("=", 2)[0]).toList();
        if (!options.isEmpty()) {
            List<String> suggestions = e.getSuggestions();
            return (options.size() == 1 ? "unknown option " : "unknown options ") + String.join(", ", options)
                    + (suggestions.isEmpty() ? "" : " (did you mean " + String.join(" or ", suggestions) + "?)");
        }
        return "unexpected argument '" + first + "'";
    }

    /** The command ran and threw. */
    static int failed(Exception e, CommandLine cmd, ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        err.println(cmd.getCommandSpec().qualifiedName() + ": " + oneLine(message(e)));
        debug(e, err);
        return badInput(e) ? BAD_INPUT : FAILED;
    }

    /**
     * The project reports bad input (a wrong value, a missing, corrupt or mismatched file) as
     * IllegalArgumentException, naming the field, option or file; a file the user named that does not exist
     * surfaces as NoSuchFileException.
     */
    static boolean badInput(Throwable e) {
        if (e instanceof IllegalArgumentException || e instanceof NoSuchFileException || e instanceof FileNotFoundException) return true;
        return e instanceof UncheckedIOException u && (u.getCause() instanceof NoSuchFileException || u.getCause() instanceof FileNotFoundException);
    }

    /** The message with its cause's, since "cannot read X" alone does not say why. */
    private static String message(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        Throwable cause = e.getCause();
        if (cause != null && cause.getMessage() != null && !message.contains(cause.getMessage())) message += ": " + cause.getMessage();
        return message;
    }

    private static String oneLine(String s) {
        return s.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    private static void debug(Throwable e, PrintWriter err) {
        if (System.getenv("PANAMASD_DEBUG") != null) e.printStackTrace(err);
        err.flush();
    }
}
