package org.panamasd.io;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** A mapped weights file written over in place is named; one replaced by a rename (a new inode) is not. */
class MappedFileTest extends NativeTest {

    private static boolean named(Path file) {
        return MappedFile.changedInPlace().stream().anyMatch(c -> c.startsWith(file.toAbsolutePath().toString()));
    }

    @Test
    void aFileWrittenOverWhileMappedIsNamedAndARenamedReplacementIsNot(@TempDir Path dir) throws Exception {
        Path overwritten = dir.resolve("a.safetensors"), renamed = dir.resolve("b.safetensors");
        try (Scope scope = Scope.open()) {
            for (Path p : List.of(overwritten, renamed)) SafeTensorsWriter.write(Map.of("w", Tensor.ones(64)), Map.of(), p);
            Tensor a = SafeTensors.open(overwritten).tensor("w");
            Tensor b = SafeTensors.open(renamed).tensor("w");
            assertFalse(named(overwritten) || named(renamed), "nothing changed yet");

            Path fresh = dir.resolve("b.new");
            SafeTensorsWriter.write(Map.of("w", Tensor.zeros(64)), Map.of(), fresh);
            Files.move(fresh, renamed, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertFalse(named(renamed), "a rename leaves the mapped inode intact");
            assertEquals(64.0, b.sum().item(), "the mapping still reads the old weights");

            try (FileChannel ch = FileChannel.open(overwritten, StandardOpenOption.WRITE)) {  // as cp onto the file would
                ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), Files.size(overwritten));
            }
            assertTrue(named(overwritten), MappedFile.changedInPlace().toString());
            assertTrue(MappedFile.changedInPlace().toString().contains("size"), MappedFile.changedInPlace().toString());
            a.close();
            b.close();
        }
    }
}
