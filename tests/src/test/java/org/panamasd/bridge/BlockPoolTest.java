package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.support.NativeTest;

/**
 * The counting allocator's block pool: a freed large block serves the next allocation of its size class (no new
 * mapping, so no new page faults), small tensors bypass it, the free blocks it keeps are bounded and released on
 * demand, and a reused block's tensor holds what was written into it, not what the last one left.
 */
class BlockPoolTest extends NativeTest {
    private static final long LIMIT = 2L << 30;

    @AfterEach
    void restore() {
        MemoryStats.setPool(true, LIMIT);
    }

    @Test
    void blocksOfTwoMiBOrMoreAskForHugePages() throws java.io.IOException {
        java.nio.file.Path setting = java.nio.file.Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isReadable(setting), "this kernel has no transparent huge pages");
        org.junit.jupiter.api.Assumptions.assumeTrue(MemoryStats.pool().enabled(), "the counting allocator's block pool is off");
        String thp = java.nio.file.Files.readString(setting).trim();
        String defrag = java.nio.file.Files.readString(java.nio.file.Path.of("/sys/kernel/mm/transparent_hugepage/defrag")).trim();
        // the advice itself shows in every mode (VmFlags "hg"); whether huge pages back it shows only under 'madvise'
        // ('always' gives them to every large mapping, 'never' to none), and only where an advised fault compacts
        // memory for one at once rather than falling back to small pages (defrag 'always', 'madvise', 'defer+madvise')
        boolean pagesShow = thp.contains("[madvise]") && (defrag.contains("[always]") || defrag.contains("[madvise]") || defrag.contains("[defer+madvise]"));
        try {
            for (boolean huge : new boolean[] {true, false}) {
                MemoryStats.setHugePages(huge);
                MemoryStats.releasePool();  // the advice is given when a block is mapped
                // 2 MiB: one huge page only when the block's data starts on a 2 MiB boundary; 32 MiB, every page written
                for (long[] shape : new long[][] {{512, 1024}, {4096, 2048}}) {
                    try (Scope s = Scope.open()) {
                        Tensor t = Tensor.zeros(shape);
                        Mapping mapping = mappingAround(t.data().address());
                        long bytes = t.numel() * 4;
                        assertEquals(huge, mapping.flags().contains("hg"), "a block of " + bytes + " bytes advised for huge pages: " + mapping);
                        if (!pagesShow) continue;
                        if (huge) assertTrue(mapping.anonHugeBytes() >= 2L << 20, "an advised block of " + bytes + " bytes holds huge pages: " + mapping);
                        else assertEquals(0, mapping.anonHugeBytes(), "an unadvised block of " + bytes + " bytes holds none under 'madvise': " + mapping);
                    }
                }
            }
        } finally {
            MemoryStats.setHugePages(org.panamasd.internal.Native.HUGE_PAGES);
        }
    }

    /** What /proc/self/smaps says of one mapping: its AnonHugePages in bytes and its VmFlags. */
    private record Mapping(long anonHugeBytes, java.util.List<String> flags) {}

    /** The mapping of this process that holds {@code address} (/proc/self/smaps). */
    private static Mapping mappingAround(long address) throws java.io.IOException {
        boolean inside = false, found = false;
        long anonHuge = -1;
        java.util.regex.Pattern header = java.util.regex.Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) ");
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/smaps"))) {
            java.util.regex.Matcher range = header.matcher(line);
            if (range.find()) {
                if (inside) break;  // past the mapping, and it had no VmFlags line
                inside = Long.compareUnsigned(Long.parseUnsignedLong(range.group(1), 16), address) <= 0
                        && Long.compareUnsigned(address, Long.parseUnsignedLong(range.group(2), 16)) < 0;
                found |= inside;
            } else if (inside && line.startsWith("AnonHugePages:")) {
                anonHuge = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            } else if (inside && line.startsWith("VmFlags:")) {  // the last field of a mapping
                return new Mapping(anonHuge, java.util.List.of(line.substring("VmFlags:".length()).trim().split("\\s+")));
            }
        }
        if (!found) throw new AssertionError("no mapping of this process holds " + Long.toHexString(address));
        return org.junit.jupiter.api.Assumptions.abort("this kernel's /proc/self/smaps shows no VmFlags (Linux 3.8 and later do)");
    }

    @Test
    void aFreedBlockServesTheNextAllocationOfItsClass() {
        MemoryStats.setPool(true, LIMIT);
        MemoryStats.releasePool();
        try (Scope s = Scope.open()) {
            Tensor.full(7f, 1024, 1024).close();  // 4 MiB: pooled
        }
        MemoryStats.Pool before = MemoryStats.pool();
        assertTrue(before.freeBytes() >= 4L << 20, "the freed block stays in the pool: " + before);
        try (Scope s = Scope.open()) {
            Tensor zeros = Tensor.zeros(1000, 1040);  // another size of the same 4 MiB class
            MemoryStats.Pool after = MemoryStats.pool();
            assertEquals(before.maps(), after.maps(), "no new mapping");
            assertEquals(before.hits() + 1, after.hits(), "served by the free block");
            assertEquals(0.0, zeros.abs().max().item(), "the reused block holds the new tensor's zeros, not the old sevens");
        }
        try (Scope s = Scope.open()) {
            long hits = MemoryStats.pool().hits();
            Tensor.zeros(100, 100).close();  // 40 KB: malloc's
            assertEquals(hits, MemoryStats.pool().hits(), "small tensors bypass the pool");
        }
        assertTrue(MemoryStats.releasePool() >= 4L << 20, "release unmaps the free blocks");
        assertEquals(0, MemoryStats.pool().freeBytes());
    }

    @Test
    void theFreeBlocksAreBoundedAndThePoolCanBeTurnedOff() {
        MemoryStats.setPool(true, 8L << 20);
        try (Scope s = Scope.open()) {
            for (int i = 0; i < 4; i++) Tensor.zeros(1024, 1024 + 256 * i);  // 4, 5, 6, 7 MiB classes, 22 MiB in all
        }
        assertTrue(MemoryStats.pool().freeBytes() <= 8L << 20, "at most the limit is kept: " + MemoryStats.pool());
        try (Scope s = Scope.open()) {
            Tensor inUse = Tensor.zeros(1024, 1024);  // from the pool
            MemoryStats.setPool(false, LIMIT);
            assertEquals(0, MemoryStats.pool().freeBytes(), "turned off, the pool unmaps its free blocks");
            inUse.close();
            assertEquals(0, MemoryStats.pool().freeBytes(), "a block in use when the pool went off goes back to the system, not to the pool");
        }
        long maps = MemoryStats.pool().maps();
        try (Scope s = Scope.open()) {
            Tensor.zeros(1024, 1024).close();
        }
        assertEquals(maps, MemoryStats.pool().maps(), "off: large tensors come from malloc");
        assertEquals(0, MemoryStats.pool().freeBytes());
        assertThrows(TorchException.class, () -> MemoryStats.setPool(true, -1));
    }
}
