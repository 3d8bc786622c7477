package org.panamasd.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One in-process run of the command line: its exit code and what it wrote to its out and err writers. */
record CliRun(int exitCode, String out, String err) {
    static CliRun of(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code;
        try (PrintWriter o = new PrintWriter(out, true); PrintWriter e = new PrintWriter(err, true)) {
            code = Main.run(o, e, args);
        }
        return new CliRun(code, out.toString(), err.toString());
    }

    /** Runs {@code generate} with {@code args} (which name --out {@code out}), asserts it succeeded, and returns the PNG's pixels. */
    static float[] pixels(java.nio.file.Path out, String... args) {
        CliRun run = of(args);
        org.junit.jupiter.api.Assertions.assertEquals(0, run.exitCode(), run.toString());
        try (org.panamasd.Scope s = org.panamasd.Scope.open()) {
            return org.panamasd.io.ImageFiles.readRgb(out).toFloatArray();
        }
    }

    /** {@code first} then {@code rest}: a command line with extra options. */
    static String[] concat(String[] first, String... rest) {
        String[] all = java.util.Arrays.copyOf(first, first.length + rest.length);
        System.arraycopy(rest, 0, all, first.length, rest.length);
        return all;
    }

    @Override
    public String toString() {
        return "exit " + exitCode + "\n--- out:\n" + out + "--- err:\n" + err;
    }
}
