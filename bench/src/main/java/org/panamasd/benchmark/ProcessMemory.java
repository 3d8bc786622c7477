package org.panamasd.benchmark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory from /proc/self/status: VmRSS now and VmHWM, its peak. The peak can be
 * reset to the current RSS by writing 5 to /proc/self/clear_refs (Linux 4.0+) where the kernel and the
 * container permit it; where they do not, a benchmark must run each measured part in its own process.
 */
public final class ProcessMemory {
    private static final Path STATUS = Path.of("/proc/self/status"), CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private ProcessMemory() {}

    /** Resident bytes now, or -1 where /proc is missing. */
    public static long rssBytes() {
        return field("VmRSS:");
    }

    /** Peak resident bytes since the process started or the last {@link #resetPeak()}, or -1. */
    public static long peakRssBytes() {
        return field("VmHWM:");
    }

    /** Resets the peak to the current RSS; false when that is not permitted here (nothing changes then). */
    public static boolean resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5");
            return true;
        } catch (IOException | SecurityException | UnsupportedOperationException e) {
            return false;
        }
    }

    /**
     * Gives back what closed models and freed temporaries still hold, so that the next measurement's RSS is its
     * own: weight files are mapped into automatic arenas, which unmap only once the bridge has let them go (its next drain) and the GC has found them unreachable
     * (collects until RSS has stopped falling for three rounds, at most 3 s), and glibc keeps freed heap below M_TRIM_THRESHOLD
     * (malloc_trim(0) returns it; here up to 3.5 GB after a UNet part).
     */
    public static void releaseFreed() {
        org.panamasd.MemoryStats.liveWrappedSegments();  // drains the bridge's queue of freed views, which keeps their segments reachable until then
        long previous = Long.MAX_VALUE;
        for (int i = 0, steady = 0; i < 30 && steady < 3; i++) {  // the Cleaner may unmap a few rounds after the collection
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long rss = rssBytes();
            steady = rss >= previous - (1L << 20) ? steady + 1 : 0;
            previous = Math.min(previous, rss);
        }
        MALLOC_TRIM.ifPresent(trim -> {
            try {
                int released = (int) trim.invokeExact(0L);  // 1 when memory went back to the system
            } catch (Throwable e) {
                throw new IllegalStateException("malloc_trim failed", e);
            }
        });
    }

    /** glibc's {@code int malloc_trim(size_t pad)}; absent on other C libraries. */
    private static final java.util.Optional<java.lang.invoke.MethodHandle> MALLOC_TRIM = java.lang.foreign.Linker.nativeLinker().defaultLookup()
            .find("malloc_trim").map(address -> java.lang.foreign.Linker.nativeLinker().downcallHandle(address,
                    java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_LONG)));

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+");  // "123456 kB"
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: unknown
        }
        return -1;
    }
}
