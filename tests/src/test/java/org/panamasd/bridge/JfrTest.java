package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import jdk.jfr.Recording;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.Op;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * With JFR recording the allocation event, every op that returns several tensors still adopts the right
 * handles: the event asks each new tensor for its size, through the same scratch memory that held the
 * handles (this crashed in psd_tensor_storage_nbytes).
 */
class JfrTest extends NativeTest {
    private static Recording recording;

    @BeforeAll
    static void record() {
        recording = new Recording();
        recording.enable("org.panamasd.TensorAllocation");
        recording.enable("org.panamasd.ScopeClosed");
        recording.start();
    }

    @AfterAll
    static void stop() {
        recording.close();
    }

    @Test
    void chunkAndSplitOfLargeTensors() {
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.zeros(1, 512, 1024);  // 2 MiB: above the event's 1 MiB threshold
            Tensor[] halves = x.chunk(2, -1);
            assertEquals(2, halves.length);
            for (Tensor h : halves) assertArrayEquals(new long[] {1, 512, 512}, h.shape());
            Tensor[] parts = x.split(256, 1);
            assertEquals(2, parts.length);
            assertArrayEquals(new long[] {1, 256, 1024}, parts[1].shape());
        }
    }

    @Test
    void boxedCallsWithSeveralLargeResults() {
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.randn(null, 4, 256, 512);
            List<Object> results = Op.find("aten::max", "dim").call(x, 2L, true);
            assertArrayEquals(new long[] {4, 256, 1}, ((Tensor) results.get(0)).shape());
            assertArrayEquals(new long[] {4, 256, 1}, ((Tensor) results.get(1)).shape());
            List<Object> pieces = Op.find("aten::unbind", "int").call(x, 0L);
            assertEquals(4, pieces.size());
            assertArrayEquals(new long[] {256, 512}, ((Tensor) pieces.get(3)).shape());
        }
    }

    @Test
    void gradientsOfSeveralLargeInputs() {
        try (Scope scope = Scope.open()) {
            Tensor a = Tensor.randn(null, 512, 1024).requiresGrad(true);
            Tensor b = Tensor.randn(null, 512, 1024).requiresGrad(true);
            Tensor loss = a.mul(b).sum();
            Tensor[] grads = Autograd.grad(List.of(loss), List.of(a, b), null, false, false, false);
            assertArrayEquals(new long[] {512, 1024}, grads[0].shape());
            assertArrayEquals(new long[] {512, 1024}, grads[1].shape());
        }
    }
}
