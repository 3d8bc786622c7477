package org.panamasd.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Loads libpanamasd once, before the generated bindings look up any symbol.
 *
 * <p>Order: the system property {@code panamasd.library} (a path to the .so), then the copy packed in
 * the jar (extracted to a per-user cache), then {@code System.loadLibrary("panamasd")}, which honours
 * {@code -Djava.library.path}. The generated bindings only look symbols up in what this loaded.
 */
public final class NativeLibrary {
    private static final String RESOURCE = "/native/linux-x86_64/libpanamasd.so";
    private static volatile boolean loaded;

    public static void load() {
        if (loaded) return;
        synchronized (NativeLibrary.class) {
            if (loaded) return;
            String configured = System.getProperty("panamasd.library");
            if (configured != null && !configured.isBlank()) {
                Path path = Path.of(configured);
                if (!Files.isRegularFile(path))
                    throw new UnsatisfiedLinkError("panamasd.library=" + configured + " is not a file: build the shim (native/build.sh)");
                System.load(path.toAbsolutePath().toString());
            } else if (NativeLibrary.class.getResource(RESOURCE) != null) {
                System.load(extract().toString());
            } else {
                System.loadLibrary("panamasd");
            }
            checkAbi();
            loaded = true;
        }
    }

    private static void checkAbi() {
        int actual = panamasd_h.psd_abi_version();
        if (actual != panamasd_h.PSD_ABI_VERSION())
            throw new UnsatisfiedLinkError("libpanamasd ABI version " + actual + " does not match the bindings' "
                    + panamasd_h.PSD_ABI_VERSION() + ": rebuild the shim and the bindings together");
    }

    private static Path extract() {
        try (InputStream in = NativeLibrary.class.getResourceAsStream(RESOURCE)) {
            byte[] bytes = in.readAllBytes();
            Path cache = Path.of(System.getProperty("java.io.tmpdir"), "panama-sd-" + System.getProperty("user.name"),
                    Integer.toHexString(java.util.Arrays.hashCode(bytes)));
            Files.createDirectories(cache);
            Path library = cache.resolve("libpanamasd.so");
            if (!Files.exists(library) || Files.size(library) != bytes.length) {
                Path temporary = Files.createTempFile(cache, "libpanamasd", ".tmp");
                Files.write(temporary, bytes);
                Files.move(temporary, library, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            return library;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot extract " + RESOURCE, e);
        }
    }


    private NativeLibrary() {}
}
