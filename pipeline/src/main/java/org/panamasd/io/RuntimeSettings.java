package org.panamasd.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where panama-sd's settings and cache files come from, in one place. A setting is a system property, else an
 * environment variable ({@code -Dpanamasd.conv.backend} or {@code PANAMASD_CONV_BACKEND}); cache files live in
 * one per-user directory ({@code $XDG_CACHE_HOME/panama-sd}, else {@code ~/.cache/panama-sd}) unless a setting
 * moves them, and are read and written here (JSON, written atomically, the directory made on first write). The
 * layers that compute ({@code nn}: the convolution backends' timings) ask this class instead of touching the
 * environment or the file system themselves. The bindings' own switches (threads, allocator, attention) are read
 * the same way below this layer, in {@code org.panamasd.internal.Native}.
 */
public final class RuntimeSettings {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RuntimeSettings() {}

    /** The system property, else the environment variable, trimmed; null when neither is set or the value is blank. */
    public static String get(String property, String env) {
        String value = System.getProperty(property, System.getenv(env));
        return value == null || value.isBlank() ? null : value.trim();
    }

    /** {@code $XDG_CACHE_HOME/panama-sd}, else {@code ~/.cache/panama-sd}. */
    public static Path userCacheDirectory() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        return (xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache")).resolve("panama-sd");
    }

    /**
     * A cache's directory: the setting's value, {@link #userCacheDirectory()} when unset, or null (keep the cache in
     * memory only) when it is {@code none}.
     */
    public static Path cacheDirectory(String property, String env) {
        String dir = get(property, env);
        if (dir == null) return userCacheDirectory();
        return dir.equalsIgnoreCase("none") ? null : Path.of(dir);
    }

    /** A cache file's JSON, or null when there is no such file; a file that is not JSON throws. */
    public static JsonNode readJson(Path file) throws IOException {
        return Files.isRegularFile(file) ? JSON.readTree(file.toFile()) : null;
    }

    /** Writes a cache file: its directory made if missing, the JSON written beside it and moved into place. */
    public static void writeJson(Path file, JsonNode root) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        AtomicFile.write(file, tmp -> Files.writeString(tmp, root.toPrettyString() + "\n"));
    }
}
