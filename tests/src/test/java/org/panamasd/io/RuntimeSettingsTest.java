package org.panamasd.io;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings and cache files through the one class that reads them. */
class RuntimeSettingsTest {
    private static final String PROPERTY = "panamasd.test.runtimeSettings";

    @Test
    void aSystemPropertyIsReadTrimmedAndABlankOneIsUnset() {
        try {
            System.setProperty(PROPERTY, "  dense ");
            assertEquals("dense", RuntimeSettings.get(PROPERTY, "PANAMASD_TEST_UNSET_VARIABLE"));
            System.setProperty(PROPERTY, "   ");
            assertNull(RuntimeSettings.get(PROPERTY, "PANAMASD_TEST_UNSET_VARIABLE"));
        } finally {
            System.clearProperty(PROPERTY);
        }
        assertNull(RuntimeSettings.get(PROPERTY, "PANAMASD_TEST_UNSET_VARIABLE"));
        // an environment variable stands in when the property is unset (PATH is set wherever the tests run)
        assertEquals(System.getenv("PATH").trim(), RuntimeSettings.get(PROPERTY, "PATH"));
    }

    @Test
    void aCacheDirectoryIsTheSettingsNoneOrTheUsersOwn(@TempDir Path dir) {
        try {
            System.setProperty(PROPERTY, dir.toString());
            assertEquals(dir, RuntimeSettings.cacheDirectory(PROPERTY, "PANAMASD_TEST_UNSET_VARIABLE"));
            System.setProperty(PROPERTY, "NONE");
            assertNull(RuntimeSettings.cacheDirectory(PROPERTY, "PANAMASD_TEST_UNSET_VARIABLE"), "none keeps the cache in memory");
        } finally {
            System.clearProperty(PROPERTY);
        }
        Path user = RuntimeSettings.cacheDirectory(PROPERTY, "PANAMASD_TEST_UNSET_VARIABLE");
        assertEquals(RuntimeSettings.userCacheDirectory(), user);
        assertEquals("panama-sd", user.getFileName().toString());
    }

    @Test
    void cacheFilesAreWrittenIntoNewDirectoriesAndReadBack(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("a/b/cache.json");
        assertNull(RuntimeSettings.readJson(file), "no file: no cache");
        RuntimeSettings.writeJson(file, new ObjectMapper().createObjectNode().put("format", "x").put("n", 3));
        assertEquals(3, RuntimeSettings.readJson(file).path("n").asInt());
        try (var files = Files.list(file.getParent())) {
            assertEquals(1, files.count(), "only the file: no temporary left beside it");
        }
        Files.writeString(file, "{not json");
        assertThrows(IOException.class, () -> RuntimeSettings.readJson(file));
    }
}
