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
