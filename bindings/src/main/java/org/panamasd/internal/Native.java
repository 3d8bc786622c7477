package org.panamasd.internal;

import java.lang.foreign.MemorySegment;
import org.panamasd.TorchException;

/** Turns a psd_status into a {@link TorchException} carrying the native message. */
public final class Native {
    /** glibc malloc thresholds: large tensor temporaries otherwise map and unmap pages on every call. */
    public static final long MMAP_THRESHOLD = Long.getLong("panamasd.malloc.mmapThreshold", 32L << 20);
    public static final long TRIM_THRESHOLD = Long.getLong("panamasd.malloc.trimThreshold", 512L << 20);

    static {
        NativeLibrary.load();
        check(panamasd_h.psd_runtime_init(MMAP_THRESHOLD, TRIM_THRESHOLD), "psd_runtime_init");
        check(panamasd_h.psd_runtime_set_num_threads(defaultThreads()), "psd_runtime_set_num_threads");
    }

    /**
     * libtorch starts with one intra-op thread here; use every available processor unless the system
     * property panamasd.threads or the environment variable PANAMASD_NUM_THREADS says otherwise.
     */
    public static int defaultThreads() {
        String configured = System.getProperty("panamasd.threads", System.getenv("PANAMASD_NUM_THREADS"));
        if (configured != null && !configured.isBlank()) {
            try {
                int threads = Integer.parseInt(configured.trim());
                if (threads >= 1) return threads;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("panamasd.threads / PANAMASD_NUM_THREADS must be a positive integer, got '" + configured + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public static void check(int status, String call) {
        if (status != 0) throw failure(status, call);
    }

    public static TorchException failure(int status, String call) {
        MemorySegment message = panamasd_h.psd_last_error();
        return new TorchException(status, message.getString(0), call);
    }

    /** Makes sure the library is loaded and initialised (class initialisation does the work). */
    public static void ensureLoaded() {}

    private Native() {}
}
