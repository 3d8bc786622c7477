package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Functional;
import org.panamasd.Op;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.support.NativeTest;

/** Bad shapes, dtypes and devices become exceptions with libtorch's message; the JVM lives on. */
class ErrorHandlingTest extends NativeTest {

    @Test
    void matmulShapeMismatchCarriesBothShapes() {
        try (Scope scope = Scope.open()) {
            var e = assertThrows(TorchException.class, () -> Tensor.ones(2, 3).matmul(Tensor.ones(4, 5)));
            assertTrue(e.nativeMessage().contains("2x3") && e.nativeMessage().contains("4x5"), e.getMessage());
            assertTrue(e.getMessage().contains("psd_tensor_matmul"), e.getMessage());
            // the thread and the library still work
            assertEquals(2 * 3.0, Tensor.ones(2, 3).matmul(Tensor.ones(3, 1)).sum().item());
        }
    }

    @Test
    void dtypeMismatchIsReported() {
        try (Scope scope = Scope.open()) {
            var e = assertThrows(TorchException.class, () -> Tensor.ones(2, 3).matmul(Tensor.zeros(DType.INT64, 3, 2)));
            assertTrue(e.nativeMessage().contains("Long"), e.getMessage());
        }
    }

    @Test
    void badViewAndBadDeviceAreReported() {
        try (Scope scope = Scope.open()) {
            var view = assertThrows(TorchException.class, () -> Tensor.ones(2, 3).view(4));
            assertTrue(view.nativeMessage().contains("[4]") && view.nativeMessage().contains("6"), view.getMessage());
            if (org.panamasd.Torch.cudaDeviceCount() == 0) {
                assertThrows(TorchException.class, () -> Tensor.ones(2).to(Device.cuda(0)));
            }
            assertThrows(TorchException.class, () -> Tensor.ones(2, 3).narrow(0, 1, 5));
            assertThrows(TorchException.class, () -> Functional.conv2d(Tensor.ones(1, 3, 8, 8), Tensor.ones(4, 2, 3, 3), null, 1, 1));
        }
    }

    @Test
    void shimArgumentErrorsAreReported() {
        try (Scope scope = Scope.open()) {
            var e = assertThrows(TorchException.class,
                    () -> Functional.interpolate(Tensor.ones(1, 1, 4, 4), 0.0, 0.0, Functional.Interpolation.NEAREST, null));
            assertEquals(2, e.status());
            assertTrue(e.nativeMessage().contains("scale"), e.getMessage());
            var unknown = assertThrows(TorchException.class, () -> Op.find("aten::no_such_op", ""));
            assertTrue(unknown.nativeMessage().contains("aten::no_such_op"), unknown.getMessage());
        }
    }

    @Test
    void manyFailuresInARowLeaveNoHandles() {
        try (Scope scope = Scope.open()) {
            Tensor a = Tensor.ones(2, 3);
            long before = scope.liveTensors();
            for (int i = 0; i < 1000; i++) assertThrows(TorchException.class, () -> a.matmul(a));
            assertEquals(before, scope.liveTensors());
        }
    }
}
