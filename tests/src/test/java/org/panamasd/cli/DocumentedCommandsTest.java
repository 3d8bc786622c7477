package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command line that the README, docs/*.md and scripts/*.sh show ({@code ./panama-sd CMD ...}, and train-shipped.sh's
 * {@code frozen CMD ...}) still parses: no option they use was renamed or dropped. Parsing only; nothing runs.
 * A line with a literal {@code ...} argument is a sketch in prose and is left out; a shell variable stands for a number.
 */
class DocumentedCommandsTest {
    // A script's "$latent" or "${3}": a value the test cannot know, parsed as "1", which every option type used with one takes.
    private static final Pattern SHELL_VARIABLE = Pattern.compile("\\$(\\{?[A-Za-z_][A-Za-z0-9_]*}?|\\{?[0-9]}?)");
    private static final Pattern INVOCATION = Pattern.compile("(?:\\./panama-sd|^frozen) ([a-z][a-z0-9-]*)([^`#]*)");

    @Test
    void theReadmeDocsAndScriptsCommandLinesParse() throws IOException {
        Path root = Paths.root();
        List<Path> files = new ArrayList<>(List.of(root.resolve("README.md")));
        try (Stream<Path> docs = Files.list(root.resolve("docs"))) {
            docs.filter(f -> f.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        try (Stream<Path> scripts = Files.list(root.resolve("scripts"))) {
            scripts.filter(f -> f.toString().endsWith(".sh")).sorted().forEach(files::add);
        }
        int parsed = 0;
        for (Path file : files) {
            for (String line : logicalLines(Files.readString(file))) {
                Matcher m = INVOCATION.matcher(line.strip());
                while (m.find()) {
                    List<String> words = new ArrayList<>();
                    for (String word : words(m.group(2)))
                        if (!word.startsWith("[") && !word.equals(">/dev/null")) words.add(SHELL_VARIABLE.matcher(word).matches() ? "1" : word);
                    if (words.contains("...")) continue;  // a sketch in prose (e.g. the README's example of a mistyped option), not a command
                    List<String> args = new ArrayList<>(List.of(m.group(1)));
                    // the launcher's options (--nproc ...) are taken off before the command parses, as Main.main does
                    args.addAll(DistributedLauncher.Split.of(m.group(1), words.toArray(String[]::new)).command());
                    try {
                        Main.commandLine().parseArgs(args.toArray(String[]::new));
                    } catch (CommandLine.ParameterException e) {
                        fail(file.getFileName() + ": '" + String.join(" ", args) + "' no longer parses: " + e.getMessage());
                    }
                    parsed++;
                }
            }
        }
        assertTrue(parsed >= 15, "found the documented command lines (" + parsed + ")");
    }

    /** Lines with shell continuations (a trailing backslash) joined. */
    private static List<String> logicalLines(String text) {
        return List.of(text.replaceAll("\\\\\\R\\s*", " ").split("\\R"));
    }

    /** Shell words: whitespace-separated, with "double" and 'single' quoted parts kept whole. */
    private static List<String> words(String s) {
        List<String> words = new ArrayList<>();
        Matcher m = Pattern.compile("\"([^\"]*)\"|'([^']*)'|(\\S+)").matcher(s);
        while (m.find()) words.add(m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3));
        return words;
    }
}
