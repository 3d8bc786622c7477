package org.panamasd.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes a file beside its target and moves it into place, so a crash or an error never leaves a half-written
 * file under the final name; the result is rw-r--r-- (a temporary file starts private).
 */
public final class AtomicFile {
    /** What fills the temporary file. */
    @FunctionalInterface
    public interface Fill {
        void into(Path temporary) throws IOException;
    }

    public static void write(Path file, Fill fill) throws IOException {
        Path target = file.toAbsolutePath();
        Path temporary = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".tmp");
        try {
            fill.into(temporary);
            readableByAll(temporary);
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    /** rw-r--r-- where the file system has POSIX permissions. */
    private static void readableByAll(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException notPosix) {
            // other file systems keep their defaults
        }
    }

    private AtomicFile() {}
}
