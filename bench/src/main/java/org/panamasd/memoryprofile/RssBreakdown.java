package org.panamasd.memoryprofile;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.panamasd.MemoryStats;

/**
 * What this process's resident memory is made of at one moment: /proc/self/smaps's resident bytes by kind of
 * mapping (weight files, shared libraries, other files, anonymous memory), and the parts of the anonymous memory
 * that something can vouch for: the bytes the counting allocator holds, the block pool's free blocks, malloc's free
 * heap (glibc's mallinfo2: freed, not yet given back), the JVM's committed heap and non-heap. The profiler's own
 * recording is named by the caller, who knows how many events it held at that time.
 *
 * @param weightFiles  resident pages of mapped weight files (.safetensors, .bin, .ckpt, .pt)
 * @param libraries    resident pages of shared libraries (libtorch's code and data among them)
 * @param otherFiles   resident pages of other mapped files (the JDK's modules, jars)
 * @param anonymous    resident anonymous memory (heaps, the pool's blocks, stacks): what the items below explain
 * @param mallocFree   malloc's free bytes (fordblks: resident or not); -1 where glibc's mallinfo2 is missing
 */
public record RssBreakdown(long timeNanos, long rss, long weightFiles, long libraries, long otherFiles, long anonymous, long allocator,
                           long poolFree, long mallocFree, long mallocMapped, long jvmHeapCommitted, long jvmNonHeapCommitted) {

    private static final Path SMAPS = Path.of("/proc/self/smaps");

    /** Reads it now; null where /proc/self/smaps is missing. */
    public static RssBreakdown take() {
        long time = System.nanoTime();
        long weights = 0, libraries = 0, other = 0, anonymous = 0;
        try (BufferedReader in = Files.newBufferedReader(SMAPS)) {
            String kind = "anonymous";
            for (String line; (line = in.readLine()) != null; ) {
                if (isMappingHeader(line)) {
                    kind = kindOf(line);
                } else if (line.startsWith("Rss:")) {
                    long bytes = kilobytes(line) * 1024;
                    switch (kind) {
                        case "weights" -> weights += bytes;
                        case "library" -> libraries += bytes;
                        case "file" -> other += bytes;
                        default -> anonymous += bytes;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        MemoryStats stats = MemoryStats.now();
        long[] malloc = mallinfo2();
        var bean = ManagementFactory.getMemoryMXBean();
        return new RssBreakdown(time, weights + libraries + other + anonymous, weights, libraries, other, anonymous, stats.allocatedBytes(),
                MemoryStats.pool().freeBytes(), malloc == null ? -1 : malloc[0], malloc == null ? -1 : malloc[1],
                bean.getHeapMemoryUsage().getCommitted(), bean.getNonHeapMemoryUsage().getCommitted());
    }

    /**
     * The anonymous bytes none of the named parts explains ({@code profilerBytes}: the recording's events at that time).
     * An estimate: the JVM's committed heap and malloc's free bytes count whole although some of them may not be resident,
     * and a pooled block's slack beyond its tensor (a block serves tensors down to half its class) is not named.
     */
    public long unexplained(long profilerBytes) {
        return anonymous - allocator - poolFree - Math.max(0, mallocFree) - jvmHeapCommitted - jvmNonHeapCommitted - profilerBytes;
    }

    void toJson(ObjectNode n, long startNanos, long profilerBytes) {
        n.put("t_s", (timeNanos - startNanos) / 1e9).put("rss_bytes", rss).put("weight_files_bytes", weightFiles).put("libraries_bytes", libraries)
                .put("other_files_bytes", otherFiles).put("anonymous_bytes", anonymous).put("allocator_bytes", allocator).put("pool_free_bytes", poolFree)
                .put("malloc_free_bytes", mallocFree).put("malloc_mapped_bytes", mallocMapped).put("jvm_heap_committed_bytes", jvmHeapCommitted)
                .put("jvm_non_heap_committed_bytes", jvmNonHeapCommitted).put("profiler_events_bytes", profilerBytes)
                .put("unexplained_bytes", unexplained(profilerBytes));
    }

    // "7f12a000-7f12b000 r--p 00000000 08:01 1234   /path" (a mapping) against "Rss:   12 kB" (one of its fields)
    private static final java.util.regex.Pattern HEADER = java.util.regex.Pattern.compile("^[0-9a-f]+-[0-9a-f]+ .*");

    private static boolean isMappingHeader(String line) {
        return HEADER.matcher(line).matches();
    }

    private static String kindOf(String header) {
        String[] fields = header.trim().split("\\s+", 6);
        if (fields.length < 6) return "anonymous";
        String path = fields[5].trim();
        if (path.isEmpty() || path.startsWith("[")) return "anonymous";
        if (path.endsWith(" (deleted)")) path = path.substring(0, path.length() - " (deleted)".length());
        if (path.endsWith(".safetensors") || path.endsWith(".bin") || path.endsWith(".ckpt") || path.endsWith(".pt")) return "weights";
        if (path.endsWith(".so") || path.contains(".so.")) return "library";
        if (path.startsWith("/memfd:") || path.startsWith("/dev/zero") || path.startsWith("/SYSV")) return "anonymous";
        return "file";
    }

    private static long kilobytes(String line) {
        String[] parts = line.substring(line.indexOf(':') + 1).trim().split("\\s+");
        return Long.parseLong(parts[0]);
    }

    // glibc's struct mallinfo2: ten size_t fields; fordblks (free bytes) is the 9th, hblkhd (mmapped bytes) the 5th
    private static final StructLayout MALLINFO2 = MemoryLayout.structLayout(
            ValueLayout.JAVA_LONG.withName("arena"), ValueLayout.JAVA_LONG.withName("ordblks"), ValueLayout.JAVA_LONG.withName("smblks"),
            ValueLayout.JAVA_LONG.withName("hblks"), ValueLayout.JAVA_LONG.withName("hblkhd"), ValueLayout.JAVA_LONG.withName("usmblks"),
            ValueLayout.JAVA_LONG.withName("fsmblks"), ValueLayout.JAVA_LONG.withName("uordblks"), ValueLayout.JAVA_LONG.withName("fordblks"),
            ValueLayout.JAVA_LONG.withName("keepcost"));
    private static final Optional<MethodHandle> MALLINFO = Linker.nativeLinker().defaultLookup().find("mallinfo2")
            .map(address -> Linker.nativeLinker().downcallHandle(address, FunctionDescriptor.of(MALLINFO2)));

    /** {fordblks, hblkhd}, or null without mallinfo2 (glibc before 2.33, other C libraries). */
    private static long[] mallinfo2() {
        if (MALLINFO.isEmpty()) return null;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = (MemorySegment) MALLINFO.get().invokeExact((SegmentAllocator) arena);
            return new long[] {info.get(ValueLayout.JAVA_LONG, 8 * 8), info.get(ValueLayout.JAVA_LONG, 4 * 8)};
        } catch (Throwable e) {
            return null;
        }
    }
}
