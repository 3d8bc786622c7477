package org.panamasd.internal;

import java.lang.foreign.MemorySegment;
import org.panamasd.TorchException;

/** Turns a psd_status into a {@link TorchException} carrying the native message. */
public final class Native {
    // The process-wide effects of loading the bridge, each switchable off for an embedding application
    // (docs/architecture.md, "Global effects at load"): the counting CPU allocator, glibc's malloc thresholds, and
    // libtorch's intra-op thread count.

    /** Whether libtorch's CPU allocator is replaced by the counting one (MemoryStats' byte counts). */
    public static final boolean COUNTING_ALLOCATOR = setting("panamasd.countingAllocator", "PANAMASD_COUNTING_ALLOCATOR", true);
    /** Whether glibc's malloc thresholds are changed at all (mallopt is process-wide). */
    public static final boolean MALLOC_TUNING = setting("panamasd.malloc.tune", "PANAMASD_MALLOC_TUNE", true);
    /** glibc malloc thresholds: large tensor temporaries otherwise map and unmap pages on every call. */
    public static final long MMAP_THRESHOLD = MALLOC_TUNING ? Long.getLong("panamasd.malloc.mmapThreshold", 32L << 20) : 0;
    public static final long TRIM_THRESHOLD = MALLOC_TUNING ? Long.getLong("panamasd.malloc.trimThreshold", 512L << 20) : 0;
    /** Whether tensors of 1 MiB or more come from the counting allocator's block pool (reused, so their pages stay resident). */
    public static final boolean BLOCK_POOL = COUNTING_ALLOCATOR && setting("panamasd.allocator.pool", "PANAMASD_ALLOCATOR_POOL", true);
    /** The most bytes of free blocks the pool keeps. */
    public static final long POOL_BYTES = Long.getLong("panamasd.allocator.poolBytes", 2L << 30);
    /**
     * Whether the pool's blocks of 2 MiB or more ask for transparent huge pages (MADV_HUGEPAGE): a block mapped anew
     * (the first step, a VAE decode whose bands release the pool) then faults 2 MiB at a time.
     */
    public static final boolean HUGE_PAGES = BLOCK_POOL && setting("panamasd.allocator.hugePages", "PANAMASD_ALLOCATOR_HUGE_PAGES", true);
    /**
     * Which path CPU attention without a graph takes where the shim's flash kernels apply (Torch.setAttentionChoice):
     * "timed" (default: per shape the faster of the kernels and the math path, timed on its first call), "flash" or
     * "math" (-Dpanamasd.attention / PANAMASD_ATTENTION); the older -Dpanamasd.attention.flash / PANAMASD_ATTENTION_FLASH
     * still works: false means "math", true the default, "timed".
     */
    public static final String ATTENTION = attentionSetting();
    /**
     * Whether group norm (+ SiLU), layer norm, GEGLU, the per-channel map + SiLU and per-channel sums run in the
     * shim's fused kernels where they apply
     * (Torch.setFusedKernels; -Dpanamasd.fusedKernels / PANAMASD_FUSED_KERNELS, default true).
     */
    public static final boolean FUSED_KERNELS = setting("panamasd.fusedKernels", "PANAMASD_FUSED_KERNELS", true);

    static {
        NativeLibrary.load();
        check(panamasd_h.psd_runtime_init_v2(COUNTING_ALLOCATOR, MMAP_THRESHOLD, TRIM_THRESHOLD), "psd_runtime_init_v2");
        if (COUNTING_ALLOCATOR) check(panamasd_h.psd_memory_set_pool(BLOCK_POOL, POOL_BYTES), "psd_memory_set_pool");
        if (COUNTING_ALLOCATOR) check(panamasd_h.psd_memory_set_huge_pages(HUGE_PAGES), "psd_memory_set_huge_pages");
        check(panamasd_h.psd_runtime_set_attention_choice(attentionCode(ATTENTION)), "psd_runtime_set_attention_choice");
        check(panamasd_h.psd_runtime_set_fused_kernels(FUSED_KERNELS), "psd_runtime_set_fused_kernels");
        int threads = defaultThreads();
        if (threads > 0) check(panamasd_h.psd_runtime_set_num_threads(threads), "psd_runtime_set_num_threads");
        // At exit (System.exit, SIGTERM), the JVM runs libtorch's static destructors: wait for the native calls
        // in flight first (new ones then fail), or a thread inside libtorch crashes the process as it dies.
        Runtime.getRuntime().addShutdownHook(new Thread(Native::drainAtExit, "panama-sd-exit"));
    }

    /** How long the exit waits for native calls in flight (-Dpanamasd.exitWaitMillis, default 10 s). */
    static void drainAtExit() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment left = arena.allocate(java.lang.foreign.ValueLayout.JAVA_LONG);
            panamasd_h.psd_runtime_shutdown(Long.getLong("panamasd.exitWaitMillis", 10_000), left);
            long running = left.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
            if (running > 0) System.err.println("panama-sd: exiting with " + running + " native call(s) still running");
        }
    }

    static String attentionSetting() {
        String value = System.getProperty("panamasd.attention", System.getenv("PANAMASD_ATTENTION"));
        if (value != null && !value.isBlank()) {
            value = value.trim().toLowerCase(java.util.Locale.ROOT);
            attentionCode(value);  // refuses anything else by name
            return value;
        }
        return setting("panamasd.attention.flash", "PANAMASD_ATTENTION_FLASH", true) ? "timed" : "math";
    }

    /** The shim's code of an attention choice: math 0, flash 1, timed 2. */
    public static int attentionCode(String choice) {
        return switch (choice) {
            case "math" -> 0;
            case "flash" -> 1;
            case "timed" -> 2;
            default -> throw new IllegalArgumentException("panamasd.attention / PANAMASD_ATTENTION must be timed, flash or math, got '" + choice + "'");
        };
    }

    /** A boolean switch: the system property, else the environment variable, else the default. */
    static boolean setting(String property, String env, boolean fallback) {
        String value = System.getProperty(property, System.getenv(env));
        if (value == null || value.isBlank()) return fallback;
        return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "1", "on", "yes" -> true;
            case "false", "0", "off", "no" -> false;
            default -> throw new IllegalArgumentException(property + " / " + env + " must be true or false, got '" + value + "'");
        };
    }

    /**
     * libtorch starts with one intra-op thread here; use every available processor unless the system
     * property panamasd.threads or the environment variable PANAMASD_NUM_THREADS says otherwise (0 leaves
     * libtorch's own count, which is process-wide, untouched).
     */
    public static int defaultThreads() {
        String configured = System.getProperty("panamasd.threads", System.getenv("PANAMASD_NUM_THREADS"));
        if (configured != null && !configured.isBlank()) {
            try {
                int threads = Integer.parseInt(configured.trim());
                if (threads >= 0) return threads;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("panamasd.threads / PANAMASD_NUM_THREADS must be a non-negative integer (0: leave libtorch's), got '" + configured + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /** Ends a native call: releases the tensors it pinned, then throws if it failed. */
    public static void check(int status, String call) {
        if (status != 0) throw failure(status, call);
        ThreadState.unpinCurrent();
    }

    public static TorchException failure(int status, String call) {
        MemorySegment message = panamasd_h.psd_last_error();
        TorchException failure = new TorchException(status, message.getString(0), call);
        ThreadState.unpinCurrent();
        return failure;
    }

    /** Makes sure the library is loaded and initialised (class initialisation does the work). */
    public static void ensureLoaded() {}

    private Native() {}
}
