package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Set;
import org.junit.jupiter.api.Test;

/** The parsing contract of every command, without running one: help, version, and bad arguments exit 2 naming the problem. */
class CommandLineTest {

    @Test
    void anUnknownOptionExits2WithOneLineNamingItAndRunsNothing() {
        CliRun run = CliRun.of("generate", "--step", "50", "--prompt", "a photo of a bag");
        assertEquals(2, run.exitCode(), run.toString());
        assertEquals(1, run.err().lines().count(), "one line: " + run.err());
        assertTrue(run.err().contains("unknown option --step"), run.err());
        assertTrue(run.err().contains("did you mean --steps"), run.err());
        assertFalse(run.err().contains("'50'"), "the value after the unknown option is not a second mistake: " + run.err());
        assertEquals("", run.out(), "nothing ran");
    }

    @Test
    void everyCommandRejectsUnknownOptions() {
        for (String command : commands()) {
            CliRun run = CliRun.of(command, "--no-such-option");
            assertEquals(2, run.exitCode(), command + ": " + run);
            assertTrue(run.err().startsWith("panama-sd " + command + ": unknown option --no-such-option"), command + ": " + run.err());
        }
    }

    @Test
    void everyCommandHasItsOwnHelp() {
        Set<String> commands = commands();
        assertTrue(commands.containsAll(Set.of("info", "generate", "inspect", "sample", "evaluate", "train-ddpm", "train-vae", "train-t2i",
                "train-features", "train-add", "train-progressive", "bench", "bench-scheduler", "bench-train")), commands.toString());
        for (String command : commands) {
            CliRun run = CliRun.of(command, "--help");
            assertEquals(0, run.exitCode(), command + ": " + run);
            assertTrue(run.out().startsWith("Usage: panama-sd " + command), command + ": " + run.out());
        }
        String generate = CliRun.of("generate", "--help").out();
        for (String option : new String[] {"--prompt", "--model", "--negative", "--steps", "--guidance", "--rescale", "--seed", "--height", "--width",
                "--upscale", "--scheduler", "--image", "--strength", "--batch", "--out"})
            assertTrue(generate.contains(option), "generate --help lists " + option);
        assertEquals(CliRun.of("generate", "--help").out(), CliRun.of("help", "generate").out(), "'help generate' is the same text");
    }

    @Test
    void theBridgeBenchmarkAlternatesItsPathsAndSplitsTheBridgesCost() {
        CliRun none = CliRun.of("bench", "0", "1");
        assertEquals(2, none.exitCode(), none.toString());
        assertTrue(none.err().contains("ITERATIONS and ROUNDS must be at least 1, got 0 and 1"), none.err());
        CliRun run = CliRun.of("bench", "2000", "2");
        assertEquals(0, run.exitCode(), run.toString());
        for (String line : new String[] {"java warm-up round 1:", "round 1: Java ", "add, Java API:", "empty shim call"}) assertTrue(run.out().contains(line), line + " in " + run.out());
        // the C++ baselines are built with the shim, beside it: both ran, and the ratio splits into the shim's and Java's
        java.nio.file.Path nativeBuild = java.nio.file.Path.of(System.getProperty("panamasd.library")).toAbsolutePath().getParent();
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(nativeBuild.resolve("psd_bench"))
                && java.nio.file.Files.isExecutable(nativeBuild.resolve("psd_bench_shim")), "the C++ baselines were not built beside the shim in " + nativeBuild);
        assertTrue(run.out().contains("of which the shim (C ABI, exception barrier, allocator accounting)"), run.out());
    }

    @Test
    void versionIsTheMavenProjectVersion() {
        for (String[] args : new String[][] {{"--version"}, {"generate", "--version"}, {"inspect", "-V"}}) {
            CliRun run = CliRun.of(args);
            assertEquals(0, run.exitCode(), run.toString());
            assertTrue(run.out().strip().matches("panama-sd \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?"), run.out());
        }
    }

    @Test
    void badValuesAndMissingRequiredOptionsExit2NamingTheOption() {
        CliRun steps = CliRun.of("generate", "--prompt", "x", "--steps", "many");
        assertEquals(2, steps.exitCode(), steps.toString());
        assertTrue(steps.err().contains("--steps") && steps.err().contains("many"), steps.err());
        CliRun missing = CliRun.of("generate");
        assertEquals(2, missing.exitCode(), missing.toString());
        assertTrue(missing.err().contains("--prompt"), missing.err());
        CliRun resume = CliRun.of("train-add", "--teacher", "t", "--features", "f", "--out", "o", "--resume", "maybe");
        assertEquals(2, resume.exitCode(), resume.toString());
        assertTrue(resume.err().contains("--resume"), resume.err());
    }

    @Test
    void noCommandOrAnUnknownOneExits2() {
        CliRun none = CliRun.of();
        assertEquals(2, none.exitCode(), none.toString());
        assertTrue(none.err().contains("name a command") && none.err().contains("generate"), "the usage lists the commands: " + none.err());
        CliRun unknown = CliRun.of("genrate", "--prompt", "x");
        assertEquals(2, unknown.exitCode(), unknown.toString());
        assertTrue(unknown.err().startsWith("panama-sd: unknown command 'genrate'"), unknown.err());
    }

    @Test
    void anOptionThatWouldBeIgnoredIsRefused() {
        CliRun run = CliRun.of("generate", "--prompt", "x", "--strength", "0.5");
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains("--strength") && run.err().contains("--image"), run.err());
    }

    @Test
    void aMissingModelDirectoryIsBadInputNamingIt() {
        CliRun run = CliRun.of("generate", "--prompt", "x", "--model", "/no/such/model");
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains("--model") && run.err().contains("/no/such/model"), run.err());
    }

    @Test
    void aFailureThatIsNotBadInputExits1InOneLine() {
        java.io.StringWriter err = new java.io.StringWriter();
        picocli.CommandLine cmd = Main.commandLine().setErr(new java.io.PrintWriter(err, true));
        assertEquals(1, Failures.failed(new IllegalStateException("tensor is closed"), cmd.getSubcommands().get("generate"), null));
        assertEquals("panama-sd generate: tensor is closed", err.toString().strip());
        assertEquals(2, Failures.failed(new java.io.UncheckedIOException("cannot read x", new java.nio.file.NoSuchFileException("x")), cmd, null),
                "a file the user named that is not there is bad input");
        assertEquals(1, Failures.failed(new java.io.UncheckedIOException("cannot write x", new java.io.IOException("No space left on device")), cmd, null));
    }

    private static Set<String> commands() {
        Set<String> names = new java.util.TreeSet<>(Main.commandLine().getSubcommands().keySet());
        names.remove("help");
        return names;
    }
}
