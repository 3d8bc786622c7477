package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.AllocationRecording;
import org.panamasd.MemoryStats;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.memoryprofile.MemoryProfile;
import org.panamasd.support.NativeTest;

/**
 * The allocation recording and module paths: each allocation and free of the counting allocator is recorded with
 * the module path and op that made it, the replayed peak is the allocator's own, the live set at the peak is
 * attributed to the module that made it, and recording adds nothing to what it records.
 */
class AllocationRecordingTest extends NativeTest {
    private static final ModulePath.Name UNET = ModulePath.component("unet"), DOWN = ModulePath.of("down_blocks.0"),
            UP = ModulePath.of("up_blocks.1.attentions.0");
    private static final long MIB = 1 << 20;

    @Test
    void eachAllocationAndFreeCarriesItsModuleAndOp() {
        long address;
        AllocationRecording.Events events;
        try (AllocationRecording recording = AllocationRecording.start(1 << 16)) {
            try (Scope s = Scope.open(); ModulePath.Entered unet = ModulePath.enter(UNET); ModulePath.Entered down = ModulePath.enter(DOWN)) {
                assertEquals("unet.down_blocks.0", ModulePath.current());
                Tensor t = Tensor.zeros(1024, 1024);  // 4 MiB
                address = t.address();
            }
            events = recording.stop();
        }
        int made = -1, freed = -1;
        for (int i = 0; i < events.size(); i++) {
            if (events.address()[i] != address) continue;
            if (events.bytes()[i] > 0) made = i;
            else freed = i;
        }
        assertTrue(made >= 0, "the allocation was recorded");
        assertEquals(4 * MIB, events.bytes()[made]);
        assertEquals("unet.down_blocks.0", events.modulePath(made));
        assertEquals("psd_tensor_zeros", events.opName(made));
        assertTrue(freed > made, "its free was recorded after it");
        assertEquals(-4 * MIB, events.bytes()[freed]);
        assertTrue(events.timeNanos()[freed] >= events.timeNanos()[made]);
        assertNull(ModulePath.current(), "tracking ends with the recording");
    }

    @Test
    void thePeakIsTheAllocatorsAndItsLiveSetIsAttributedToTheModuleThatMadeIt() {
        MemoryProfile profile;
        long allocatorPeak;
        try (Scope kept = Scope.open()) {
            Tensor before = Tensor.zeros(256, 1024);  // 1 MiB, made before the recording, alive throughout
            MemoryStats.resetPeak();
            try (AllocationRecording recording = AllocationRecording.start(1 << 16)) {
                try (ModulePath.Entered unet = ModulePath.enter(UNET)) {
                    Tensor small;
                    try (ModulePath.Entered down = ModulePath.enter(DOWN)) {
                        small = Tensor.zeros(512, 1024);  // 2 MiB, kept past its module
                    }
                    try (ModulePath.Entered up = ModulePath.enter(UP); Scope s = Scope.open()) {
                        Tensor.zeros(2560, 1024);  // 10 MiB: the peak is reached here
                    }
                    small.close();
                    try (Scope s = Scope.open(); ModulePath.Entered down = ModulePath.enter(DOWN)) {
                        Tensor.zeros(1024, 1024);  // 4 MiB, below the peak
                    }
                }
                allocatorPeak = MemoryStats.now().peakBytes();
                profile = MemoryProfile.of(recording.stop());
            }
            assertNotNull(before);
        }
        assertEquals(allocatorPeak, profile.peakBytes(), "the replayed peak is the allocator's");
        assertEquals(profile.peakBytes(), profile.liveAtPeak(), "the live set at the peak sums to the peak");
        assertEquals("unet.up_blocks.1.attentions.0", profile.runningAtPeak());
        assertEquals("psd_tensor_zeros", profile.opAtPeak());
        MemoryProfile.Group top = profile.byModule().getFirst();
        assertEquals("unet.up_blocks.1.attentions.0", top.module());
        assertEquals(10 * MIB, top.bytes());
        assertEquals(java.util.List.of("[2560, 1024] float32"), top.shapes());
        MemoryProfile.Group kept = profile.byModule().stream().filter(g -> g.module().equals("unet.down_blocks.0")).findFirst().orElseThrow();
        assertEquals(2 * MIB, kept.bytes(), "the tensor made in down_blocks.0 and alive at the peak counts there");
        assertTrue(profile.byModule().stream().anyMatch(g -> g.module().equals(MemoryProfile.BEFORE) && g.bytes() >= MIB),
                "what was allocated before the recording is its own group: " + profile.byModule());
        assertEquals("unet.up_blocks.1", MemoryProfile.blockOf(top.module()));
        MemoryProfile.Lifetime largest = profile.biggest().getFirst();
        assertEquals(10 * MIB, largest.bytes());
        assertEquals("unet.up_blocks.1.attentions.0", largest.freedIn(), "freed when its module's scope closed");
    }

    @Test
    void recordingAddsNothingToWhatItRecords() {
        MemoryStats before = MemoryStats.now();
        AllocationRecording.Events events;
        try (AllocationRecording recording = AllocationRecording.start(1 << 20)) {  // 32 MiB of events reserved
            assertEquals(before.allocatedBytes(), MemoryStats.now().allocatedBytes(), "the events are not the allocator's");
            events = recording.stop();
        }
        assertEquals(0, events.size(), "no allocation was made by recording, stopping or reading");
        assertEquals(before.allocatedBytes(), MemoryStats.now().allocatedBytes());
    }

    @Test
    void eventsBeyondTheCapacityAreDroppedAndCounted() {
        AllocationRecording.Events events;
        try (Scope s = Scope.open(); AllocationRecording recording = AllocationRecording.start(4)) {
            for (int i = 0; i < 5; i++) Tensor.zeros(10).close();  // 10 events
            events = recording.stop();
        }
        assertEquals(4, events.size());
        assertEquals(6, events.dropped());
    }

    @Test
    void oneRecordingAtATimeAndUntrackedModulesCostNothing() {
        try (AllocationRecording recording = AllocationRecording.start(16)) {
            assertThrows(IllegalStateException.class, () -> AllocationRecording.start(16));
        }
        ModulePath.Entered entered = ModulePath.enter(UNET);
        assertNull(ModulePath.current(), "off: nothing is tracked");
        assertSame(entered, ModulePath.enter(DOWN), "off: the shared no-op");
        entered.close();
    }

    @Test
    void leakReportsNameTheModule() {
        ModulePath.track(true);
        MemoryStats.trackAllocations(true);
        try (Scope s = Scope.open(); ModulePath.Entered unet = ModulePath.enter(UNET); ModulePath.Entered up = ModulePath.enter(UP)) {
            Tensor.zeros(3);
            assertTrue(MemoryStats.leakReport().contains("module unet.up_blocks.1.attentions.0"), MemoryStats.leakReport());
        } finally {
            MemoryStats.trackAllocations(false);
            ModulePath.track(false);
        }
    }
}
