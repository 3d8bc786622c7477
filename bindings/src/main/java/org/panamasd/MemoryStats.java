package org.panamasd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;
import org.panamasd.internal.psd_memory_stats;
import org.panamasd.jfr.TensorLeakEvent;

/**
 * Native memory accounting: live tensor handles, the bytes libtorch's CPU allocator holds now and at
 * its peak, and (opt in) where each live tensor was made, so a leak report names Java call sites.
 *
 * @param liveTensors     psd_tensor handles not yet freed
 * @param allocatedBytes  bytes the counting CPU allocator holds now
 * @param peakBytes       high-water mark since start or {@link #resetPeak()}
 * @param allocations     allocations since start
 * @param frees           frees since start
 */
public record MemoryStats(long liveTensors, long allocatedBytes, long peakBytes, long allocations, long frees) {

    static volatile boolean tracking = Boolean.getBoolean("panamasd.trackAllocations");
    static final long allocationEventThreshold = Long.getLong("panamasd.jfr.allocationThreshold", 1 << 20);
    private static final Set<Tensor> TRACKED = ConcurrentHashMap.newKeySet();
    private static final StackWalker WALKER = StackWalker.getInstance();

    public static MemoryStats now() {
        Native.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = psd_memory_stats.allocate(arena);
            Native.check(panamasd_h.psd_memory_get_stats(s), "psd_memory_get_stats");
            return new MemoryStats(psd_memory_stats.live_tensors(s), psd_memory_stats.allocated_bytes(s),
                    psd_memory_stats.peak_bytes(s), psd_memory_stats.allocations(s), psd_memory_stats.frees(s));
        }
    }

    /**
     * The counting allocator's block pool: tensors of 1 MiB or more live in blocks mapped once and reused by size
     * class, so a model's steady state does not map, fault in and unmap pages on every call.
     *
     * @param enabled    whether new large blocks come from the pool ({@code -Dpanamasd.allocator.pool}, default true)
     * @param limitBytes the most bytes of free blocks it keeps ({@code -Dpanamasd.allocator.poolBytes}, default 2 GiB)
     * @param freeBytes  bytes of free blocks it holds now (resident, not in {@link #allocatedBytes})
     * @param hits       allocations a free block served
     * @param maps       blocks mapped from the system
     */
    public record Pool(boolean enabled, long limitBytes, long freeBytes, long hits, long maps) {}

    public static Pool pool() {
        Native.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = org.panamasd.internal.psd_pool_stats.allocate(arena);
            Native.check(panamasd_h.psd_memory_get_pool_stats(s), "psd_memory_get_pool_stats");
            return new Pool(org.panamasd.internal.psd_pool_stats.enabled(s), org.panamasd.internal.psd_pool_stats.limit_bytes(s),
                    org.panamasd.internal.psd_pool_stats.free_bytes(s), org.panamasd.internal.psd_pool_stats.hits(s),
                    org.panamasd.internal.psd_pool_stats.maps(s));
        }
    }

    /** Turns the pool on or off (blocks in use stay valid) and sets how many bytes of free blocks it keeps. */
    public static void setPool(boolean enabled, long limitBytes) {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_memory_set_pool(enabled, limitBytes), "psd_memory_set_pool");
    }

    /**
     * Whether blocks of 2 MiB or more that the pool maps from now on ask for transparent huge pages (MADV_HUGEPAGE;
     * {@code -Dpanamasd.allocator.hugePages} / {@code PANAMASD_ALLOCATOR_HUGE_PAGES}, default true): their first touch
     * faults 2 MiB at a time where the kernel offers huge pages.
     */
    public static void setHugePages(boolean enabled) {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_memory_set_huge_pages(enabled), "psd_memory_set_huge_pages");
    }

    /** Unmaps the pool's free blocks; returns the bytes released. */
    public static long releasePool() {
        Native.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment released = arena.allocate(java.lang.foreign.ValueLayout.JAVA_LONG);
            Native.check(panamasd_h.psd_memory_release_pool(released), "psd_memory_release_pool");
            return released.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
        }
    }

    /** The live handle count alone (one call, no allocation). */
    public static long liveTensorCount() {
        Native.ensureLoaded();
        return panamasd_h.psd_memory_live_tensors();
    }

    /** Caller segments that libtorch still refers to (wrapped by Tensor.fromSegment and not yet released). */
    public static int liveWrappedSegments() {
        return BlobKeeper.liveBlobs();
    }

    /**
     * Tensors the safety net freed because they became unreachable unclosed (a dropped detached scope, a
     * thread that ended with scopes open). Each case is also logged and recorded as a JFR TensorLeak event.
     */
    public static long reclaimedTensors() {
        return Reclaim.reclaimed();
    }

    /** The report of the safety net's latest case ("" if none), with allocation sites when tracking is on. */
    public static String lastReclaimReport() {
        return Reclaim.lastReport();
    }

    /** The safety net's latest reports (up to 32), oldest first. */
    public static java.util.List<String> recentReclaimReports() {
        return Reclaim.recentReports();
    }

    public static void resetPeak() {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_memory_reset_peak(), "psd_memory_reset_peak");
    }

    /** Records the Java call site of every tensor made from now on (costs a stack walk per tensor), and its module path while {@link ModulePath} tracks. */
    public static void trackAllocations(boolean on) {
        tracking = on;
        if (!on) TRACKED.clear();
    }

    /** The Tensor API's own classes (Tensor and its operation families): an allocation site starts below them, at the caller. */
    private static final java.util.List<String> API_PREFIXES = java.util.List.of("org.panamasd.Tensor", "org.panamasd.BlobKeeper",
            "org.panamasd.PointwiseOps", "org.panamasd.ActivationOps", "org.panamasd.ReductionOps", "org.panamasd.LinearAlgebraOps", "org.panamasd.ShapeOps");

    static boolean isTensorApiFrame(String className) {
        if (className.equals("org.panamasd.MemoryStats") || className.equals("org.panamasd.Scope")) return true;
        for (String prefix : API_PREFIXES) if (className.startsWith(prefix)) return true;
        return false;
    }

    static void track(Tensor tensor) {
        tensor.allocationSite = WALKER.walk(frames -> frames
                .filter(f -> !isTensorApiFrame(f.getClassName()))
                .limit(6).map(StackWalker.StackFrame::toStackTraceElement).toArray(StackTraceElement[]::new));
        tensor.allocationModule = ModulePath.current();
        TRACKED.add(tensor);
    }

    static void untrack(Tensor tensor) {
        TRACKED.remove(tensor);
    }

    /** Live tracked tensors grouped by the call site that made them, most first. */
    public static String leakReport() {
        Map<String, Integer> bySite = new TreeMap<>();
        for (Tensor t : new ArrayList<>(TRACKED)) {
            StackTraceElement[] site = t.allocationSite;
            String key = site == null || site.length == 0 ? "(unknown site)"
                    : java.util.Arrays.stream(site).map(StackTraceElement::toString).collect(Collectors.joining(" <- "));
            if (t.allocationModule != null) key = "module " + t.allocationModule + ", " + key;
            bySite.merge(key, 1, Integer::sum);
        }
        if (bySite.isEmpty()) return tracking ? "no tracked tensor is live" : "allocation tracking is off (-Dpanamasd.trackAllocations=true)";
        List<Map.Entry<String, Integer>> rows = new ArrayList<>(bySite.entrySet());
        rows.sort(Map.Entry.<String, Integer>comparingByValue(Comparator.reverseOrder()));
        return rows.stream().map(e -> e.getValue() + " live tensor(s) made at " + e.getKey()).collect(Collectors.joining("\n"));
    }

    /**
     * Fails when more tensor handles are live than {@code baseline}, with a report of where they were made
     * (when tracking is on), and records a JFR leak event.
     */
    public static void assertNoLeaks(long baseline) {
        long live = liveTensorCount();
        if (live > baseline) {
            String report = leakReport();
            TensorLeakEvent event = new TensorLeakEvent();
            event.leaked = live - baseline;
            event.report = report;
            event.commit();
            throw new IllegalStateException((live - baseline) + " tensor handle(s) leaked (live " + live + ", baseline " + baseline + ")\n" + report);
        }
    }
}
