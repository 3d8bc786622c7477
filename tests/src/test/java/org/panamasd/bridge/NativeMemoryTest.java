package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

class NativeMemoryTest extends NativeTest {

    @Test
    void tenThousandOpsInScopesLeaveCountsAndBytesAtBaseline() {
        MemoryStats before = MemoryStats.now();
        try (Generator generator = new Generator(1)) {
            for (int step = 0; step < 100; step++) {
                try (Scope scope = Scope.open()) {
                    Tensor x = Tensor.randn(generator, 8, 16);
                    for (int i = 0; i < 100; i++) x = x.mul(0.5f).add(x.sin()).tanh();
                    assertTrue(scope.liveTensors() > 300);
                }
            }
        }
        MemoryStats after = MemoryStats.now();
        assertEquals(before.liveTensors(), after.liveTensors());
        assertEquals(before.allocatedBytes(), after.allocatedBytes());
        assertTrue(after.allocations() - before.allocations() >= 10_000, "the counting allocator saw the allocations");
        assertTrue(after.peakBytes() >= before.allocatedBytes() + 8 * 16 * 4);
    }

    @Test
    void allocatorBytesFollowTensorStorage() {
        long before = MemoryStats.now().allocatedBytes();
        try (Scope scope = Scope.open()) {
            Tensor.zeros(1000, 1000);
            assertEquals(before + 4_000_000, MemoryStats.now().allocatedBytes());
        }
        assertEquals(before, MemoryStats.now().allocatedBytes());
    }

    @Test
    void aLeakReportNamesTheJavaCallSite() {
        MemoryStats.trackAllocations(true);
        try (Scope scope = Scope.open()) {
            long baseline = MemoryStats.liveTensorCount();
            makeALeak();
            var e = assertThrows(IllegalStateException.class, () -> MemoryStats.assertNoLeaks(baseline));
            assertTrue(e.getMessage().contains("1 tensor handle(s) leaked"), e.getMessage());
            assertTrue(e.getMessage().contains("NativeMemoryTest.makeALeak"), e.getMessage());
        } finally {
            MemoryStats.trackAllocations(false);
        }
    }

    private static void makeALeak() {
        Tensor.ones(3);
    }

    /** An op of a family interface (PointwiseOps, ShapeOps...) is API too: the report starts at its caller. */
    @Test
    void aLeakThroughAnInstanceOpNamesItsCallerNotTheApi() {
        MemoryStats.trackAllocations(true);
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.ones(3);
            long baseline = MemoryStats.liveTensorCount();
            makeALeakThroughAnOp(x);
            var e = assertThrows(IllegalStateException.class, () -> MemoryStats.assertNoLeaks(baseline));
            assertTrue(e.getMessage().contains("NativeMemoryTest.makeALeakThroughAnOp"), e.getMessage());
            assertFalse(e.getMessage().contains("PointwiseOps") || e.getMessage().contains("ShapeOps"), e.getMessage());
        } finally {
            MemoryStats.trackAllocations(false);
        }
    }

    private static void makeALeakThroughAnOp(Tensor x) {
        x.mul(2.0).reshape(3, 1);
    }

    @Test
    void jfrShowsLargeAllocationsScopeClosesAndLeaks() throws Exception {
        Path file = Files.createTempFile("panamasd", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("org.panamasd.TensorAllocation");
            recording.enable("org.panamasd.ScopeClosed");
            recording.enable("org.panamasd.TensorLeak");
            recording.start();
            try (Scope scope = Scope.open()) {
                Tensor.zeros(1024, 1024);  // 4 MiB, above the 1 MiB default threshold
                Tensor.zeros(4);           // below it
                long baseline = MemoryStats.liveTensorCount() - 1;
                assertThrows(IllegalStateException.class, () -> MemoryStats.assertNoLeaks(baseline));
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        Files.delete(file);
        var allocations = events.stream().filter(e -> e.getEventType().getName().equals("org.panamasd.TensorAllocation")).toList();
        assertEquals(1, allocations.size());
        assertEquals(4L << 20, allocations.getFirst().getLong("bytes"));
        assertEquals("[1024, 1024]", allocations.getFirst().getString("shape"));
        var closes = events.stream().filter(e -> e.getEventType().getName().equals("org.panamasd.ScopeClosed")).toList();
        assertTrue(closes.stream().anyMatch(e -> e.getLong("tensors") == 2 && e.getLong("bytes") == (4L << 20) + 16));
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("org.panamasd.TensorLeak") && e.getLong("leaked") == 1));
    }
}
