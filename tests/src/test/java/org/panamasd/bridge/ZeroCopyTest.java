package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

class ZeroCopyTest extends NativeTest {

    @Test
    void tensorFromSegmentSharesTheMemory() {
        MemorySegment data = Arena.ofAuto().allocate(ValueLayout.JAVA_FLOAT, 6);
        for (int i = 0; i < 6; i++) data.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
        try (Scope scope = Scope.open()) {
            Tensor t = Tensor.fromSegment(data, DType.FLOAT32, 2, 3);
            assertEquals(data.address(), t.address(), "libtorch's data pointer is the segment's address");
            assertEquals(data.address(), t.data().address(), "data() exposes the same memory");

            data.setAtIndex(ValueLayout.JAVA_FLOAT, 4, 40f);  // Java writes, libtorch sees
            assertEquals(40.0, t.get(1).get(1).item());

            t.fill(7);                                        // libtorch writes, Java sees
            assertEquals(7f, data.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(7f, data.getAtIndex(ValueLayout.JAVA_FLOAT, 5));
        }
    }

    @Test
    void dataOfALibtorchTensorIsNotACopy() {
        try (Scope scope = Scope.open()) {
            Tensor t = Tensor.zeros(4);
            MemorySegment view = t.data();
            assertEquals(t.address(), view.address());
            view.setAtIndex(ValueLayout.JAVA_FLOAT, 2, 5f);
            assertEquals(5.0, t.sum().item());
            t.fill(1);
            assertEquals(1f, view.getAtIndex(ValueLayout.JAVA_FLOAT, 3));
        }
    }

    @Test
    void aViewOutlivesTheHandleItCameFromAndKeepsTheMemory() {
        int blobsBefore = MemoryStats.liveWrappedSegments();
        try (Scope scope = Scope.open()) {
            Tensor view;
            {
                MemorySegment data = Arena.ofAuto().allocate(ValueLayout.JAVA_FLOAT, 1000);
                for (int i = 0; i < 1000; i++) data.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
                Tensor original = Tensor.fromSegment(data, DType.FLOAT32, 10, 100);
                view = original.narrow(0, 9, 1);
                original.close();
            }
            // Nothing in Java refers to the segment any more; libtorch's view does.
            for (int i = 0; i < 3; i++) {
                System.gc();
                new byte[1 << 20].clone();
            }
            assertEquals(blobsBefore + 1, MemoryStats.liveWrappedSegments(), "the wrapped segment is still held for the view");
            try (Scope reads = Scope.open()) {
                assertEquals(900.0, view.get(0).get(0).item());
                assertEquals((900 + 999) * 100 / 2.0, view.sum().item(), 1e-2);
            }
            view.close();
            assertEquals(blobsBefore, MemoryStats.liveWrappedSegments(), "libtorch released the storage, and we the segment");
        }
    }

    @Test
    void aSegmentTooSmallForTheShapeIsRejected() {
        MemorySegment data = Arena.ofAuto().allocate(ValueLayout.JAVA_FLOAT, 5);
        try (Scope scope = Scope.open()) {
            var e = assertThrows(IllegalArgumentException.class, () -> Tensor.fromSegment(data, DType.FLOAT32, 2, 3));
            assertTrue(e.getMessage().contains("needs 24 bytes") && e.getMessage().contains("has 20"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Tensor.fromSegment(MemorySegment.ofArray(new float[6]), DType.FLOAT32, 6));
            var readOnly = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.fromSegment(Arena.ofAuto().allocate(24).asReadOnly(), DType.FLOAT32, 6));
            assertTrue(readOnly.getMessage().contains("read-only"), readOnly.getMessage());
        }
    }

    @Test
    void memoryOfAnArenaItsOwnerCanCloseIsRefused() {
        // closing such an arena while libtorch still refers to the memory was a use after free
        try (Scope scope = Scope.open(); Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            for (Arena arena : new Arena[] {confined, shared}) {
                var e = assertThrows(IllegalArgumentException.class, () -> Tensor.fromSegment(arena.allocate(24), DType.FLOAT32, 6));
                assertTrue(e.getMessage().contains("can be closed while tensors still refer to it"), e.getMessage());
            }
            // memory whose lifetime the keeper controls is fine
            assertEquals(6, Tensor.fromSegment(Arena.ofAuto().allocate(24, 4), DType.FLOAT32, 6).numel());
            assertEquals(6, Tensor.fromSegment(Arena.global().allocate(24, 4), DType.FLOAT32, 6).numel());
        }
    }
}
