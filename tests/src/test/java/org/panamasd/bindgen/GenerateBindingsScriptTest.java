package org.panamasd.bindgen;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.support.NativeTest;

/**
 * The jextract branch of bindings/generate-bindings.sh, run against a fake jextract that records its arguments,
 * writes a --dump-includes file in jextract's format (with another header's declarations and the "#### Extracted
 * from:" titles) and, when asked to generate, writes bindgen's output.
 */
class GenerateBindingsScriptTest extends NativeTest {
    private static final Path ROOT = Path.of(System.getProperty("panamasd.root", ".."));
    private static final Path SCRIPT = ROOT.resolve("bindings/generate-bindings.sh");
    private static final Path HEADER = ROOT.resolve("native/include/panamasd.h").toAbsolutePath().normalize();

    /** The fake: each call's arguments one per line in calls/N; generation exits with $FAKE_JEXTRACT_EXIT if set. */
    private static final String FAKE = """
            #!/usr/bin/env bash
            set -euo pipefail
            dir=$(dirname "$0")
            mkdir -p "$dir/calls"
            n=$(ls "$dir/calls" | wc -l)
            printf '%s\\n' "$@" > "$dir/calls/$n"
            header="${@: -1}"
            if [ "$1" = --dump-includes ]; then
              cat > "$2" <<DUMP
            #### Extracted from: /usr/include/x86_64-linux-gnu/bits/stdint-intn.h

            --include-typedef int64_t                    # header: /usr/include/x86_64-linux-gnu/bits/stdint-intn.h

            #### Extracted from: $header

            --include-constant PSD_ABI_VERSION           # header: $header
            --include-function psd_abi_version           # header: $header
            --include-struct psd_value                   # header: $header
            DUMP
              exit 0
            fi
            if [ -n "${FAKE_JEXTRACT_EXIT:-}" ]; then exit "$FAKE_JEXTRACT_EXIT"; fi
            while [ $# -gt 1 ]; do
              case "$1" in
                --output) out=$2; shift 2 ;;
                --target-package) package=$2; shift 2 ;;
                --header-class-name) name=$2; shift 2 ;;
                *) shift ;;
              esac
            done
            exec "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$BINDGEN_CLASSPATH" org.panamasd.bindgen.Main \\
              --output "$out" --target-package "$package" --header-class-name "$name" "$header"
            """;

    private record Run(int exit, String output, List<List<String>> calls) {}

    private static Run generate(Path tmp, Path output, String failWith) throws IOException, InterruptedException {
        Path fake = tmp.resolve("jextract");
        Files.writeString(fake, FAKE);
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("java.class.path");
        ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString(), HEADER.toString(), output.toString(), java, fake.toString(), classpath)
                .redirectErrorStream(true);
        pb.environment().put("JAVA", java);
        pb.environment().put("BINDGEN_CLASSPATH", classpath);
        if (failWith != null) pb.environment().put("FAKE_JEXTRACT_EXIT", failWith);
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "generate-bindings.sh finishes");
        List<List<String>> calls = new ArrayList<>();
        Path dir = tmp.resolve("calls");
        for (int i = 0; Files.exists(dir.resolve("" + i)); i++) calls.add(Files.readAllLines(dir.resolve("" + i)));
        return new Run(p.exitValue(), text, calls);
    }

    @Test
    void jextractGetsOnlyOurHeadersIncludesAndNoLibraryLoading(@TempDir Path tmp) throws Exception {
        Path output = tmp.resolve("out");
        Run run = generate(tmp, output, null);
        assertEquals(0, run.exit(), run.output());
        assertEquals(2, run.calls().size(), "a --dump-includes call, then the generation: " + run.calls());
        assertEquals("--dump-includes", run.calls().get(0).get(0));
        assertEquals(HEADER.toString(), run.calls().get(0).getLast());
        // the titles and another header's declarations are not arguments; nor are -l / --use-system-load-library,
        // with which jextract would emit System.loadLibrary("panamasd") (unresolvable without java.library.path)
        assertEquals(List.of("--output", output.toString(), "--target-package", "org.panamasd.internal", "--header-class-name", "panamasd_h",
                "--include-constant", "PSD_ABI_VERSION", "--include-function", "psd_abi_version", "--include-struct", "psd_value",
                HEADER.toString()), run.calls().get(1));
        assertTrue(Files.isRegularFile(output.resolve("org/panamasd/internal/panamasd_h.java")), "the generator's output is kept");
        assertTrue(Files.exists(output.resolve(".stamp")));
    }

    @Test
    void bothGeneratorsLookSymbolsUpInWhatTheLoaderLoaded(@TempDir Path tmp) throws Exception {
        Path output = tmp.resolve("out");
        assertEquals(0, generate(tmp, output, null).exit());
        String shared = Files.readString(output.resolve("org/panamasd/internal/panamasd_h$shared.java"));
        String header = Files.readString(output.resolve("org/panamasd/internal/panamasd_h.java"));
        // what jextract emits without -l (HeaderFileBuilder.emitFirstHeaderPreamble): the loader's lookup, then the default one
        assertTrue(shared.replaceAll("\\s+", "").contains("SymbolLookup.loaderLookup().or(Linker.nativeLinker().defaultLookup())"), shared);
        var loadCall = java.util.regex.Pattern.compile("System\\.load(Library)?\\s*\\(");
        assertFalse(loadCall.matcher(shared).find() || loadCall.matcher(header).find(), "no generated class loads a library itself");
    }

    /** Switching generators regenerates: a build with bindgen's output must not pass for a jextract build. */
    @Test
    void switchingToJextractRegeneratesBindgensOutput(@TempDir Path tmp) throws Exception {
        Path output = tmp.resolve("out");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process bindgen = new ProcessBuilder("bash", SCRIPT.toString(), HEADER.toString(), output.toString(), java, System.getProperty("java.class.path"))
                .redirectErrorStream(true).start();
        String text = new String(bindgen.getInputStream().readAllBytes());
        assertTrue(bindgen.waitFor(120, TimeUnit.SECONDS) && bindgen.exitValue() == 0, text);
        Run run = generate(tmp, output, null);
        assertEquals(0, run.exit(), run.output());
        assertEquals(2, run.calls().size(), "jextract must run although bindgen's output was up to date: " + run.calls());
        assertEquals(tmp.resolve("jextract").toString(), Files.readString(output.resolve(".stamp")).strip());
    }

    @Test
    void aFailingJextractFailsTheScript(@TempDir Path tmp) throws Exception {
        Run run = generate(tmp, tmp.resolve("out"), "4");
        assertNotEquals(0, run.exit(), run.output());
        assertFalse(Files.exists(tmp.resolve("out/.stamp")), "no stamp: the next build tries again");
    }
}
