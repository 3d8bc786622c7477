package org.panamasd.support;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * Where the golden cases are: the system property golden.root (default ../shared/golden, relative paths taken
 * from the repository root). Where they are required (-Pgolden sets golden.required=true; a CI run, seen by a
 * CI environment variable, requires them too) a missing directory fails the test; elsewhere it skips it,
 * naming the directory, so a checkout without the cases still runs everything else.
 */
public final class GoldenRoot {

    public static Path path() {
        Path configured = Path.of(System.getProperty("golden.root", "../shared/golden"));
        if (configured.isAbsolute()) return configured;
        return Path.of(System.getProperty("panamasd.root", "..")).resolve(configured).normalize();
    }

    /** Whether a missing golden directory is a failure rather than a skip. */
    public static boolean required() {
        return required(System.getProperty("golden.required"), System.getenv("CI"));
    }

    static boolean required(String property, String ciVariable) {
        if (property != null && !property.isBlank()) return Boolean.parseBoolean(property.strip());
        return ciVariable != null && !ciVariable.isBlank() && !ciVariable.strip().equalsIgnoreCase("false") && !ciVariable.strip().equals("0");
    }

    /** {@code relative} under the golden root, which must be a directory (else a failure or a skip, see above). */
    public static Path directory(String relative) {
        return check(path().resolve(relative), required());
    }

    /** {@code dir} itself if it is a directory; otherwise fails when {@code required}, else aborts the test. */
    public static Path check(Path dir, boolean required) {
        if (!Files.isDirectory(dir)) missing(dir + " is not a directory", required);
        return dir;
    }

    /** Fails (required) or aborts the test, saying what of the golden cases is missing. */
    public static void missing(String what, boolean required) {
        String message = "the golden cases are missing: " + what + " (set -Dgolden.root=DIR)";
        if (required) throw new AssertionError(message + "; they are required here (-Pgolden or CI)");
        Assumptions.abort(message);
    }

    private GoldenRoot() {}
}
