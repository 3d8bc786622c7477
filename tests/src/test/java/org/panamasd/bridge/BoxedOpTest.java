package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.Op;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.support.NativeTest;

class BoxedOpTest extends NativeTest {

    @Test
    void callsAnyOperatorByNameWithDefaults() {
        try (Scope scope = Scope.open()) {
            Op add = Op.find("aten::add", "Tensor");
            assertSame(add, Op.find("aten::add", "Tensor"), "looked up once, then cached");
            assertTrue(add.schema().startsWith("aten::add.Tensor("), add.schema());
            Tensor a = Tensor.of(new float[] {1, 2}, 2);
            assertArrayEquals(new float[] {2, 4}, add.callTensor(a, a).toFloatArray());        // alpha defaults to 1
            assertArrayEquals(new float[] {4, 8}, add.callTensor(a, a, 3L).toFloatArray());    // alpha = 3
            Tensor clipped = Op.find("aten::hardtanh", "").callTensor(Tensor.of(new float[] {-3, 0.2f, 5}, 3), -1.0, 1.0);
            assertArrayEquals(new float[] {-1, 0.2f, 1}, clipped.toFloatArray());
        }
    }

    @Test
    void listsScalarTypesAndNonTensorResults() {
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.arange(0, 6, 1, DType.FLOAT32).reshape(2, 3);
            List<Object> pieces = Op.find("aten::split", "Tensor").call(x, 1L, 1L);
            assertEquals(3, pieces.size());
            assertArrayEquals(new float[] {1, 4}, ((Tensor) pieces.get(1)).toFloatArray());
            Tensor joined = Op.find("aten::cat", "").callTensor(List.of(x, x), 0L);
            assertArrayEquals(new long[] {4, 3}, joined.shape());
            assertEquals(3L, Op.find("aten::size", "int").call(x, 1L).getFirst());
            Tensor asLong = Op.find("aten::_to_copy", "").callTensor(x, DType.INT64);
            assertEquals(DType.INT64, asLong.dtype());
            Tensor summed = Op.find("aten::sum", "dim_IntList").callTensor(x, new long[] {1}, true);
            assertArrayEquals(new long[] {2, 1}, summed.shape());
            Tensor gelu = Op.find("aten::gelu", "").callTensor(x, "tanh");
            assertArrayEquals(x.gelu(true).toFloatArray(), gelu.toFloatArray());
            Tensor viaOptionalList = Op.find("aten::index", "Tensor").callTensor(x, List.of(Tensor.of(new long[] {1}, 1)));
            assertArrayEquals(new float[] {3, 4, 5}, viaOptionalList.toFloatArray());
        }
    }

    @Test
    void badArgumentsAreReportedNotCrashed() {
        try (Scope scope = Scope.open()) {
            Op add = Op.find("aten::add", "Tensor");
            var missing = assertThrows(TorchException.class, () -> add.call(Tensor.ones(1)));
            assertTrue(missing.nativeMessage().contains("missing argument 1 'other'"), missing.getMessage());
            var tooMany = assertThrows(TorchException.class, () -> add.call(Tensor.ones(1), Tensor.ones(1), 1L, 2L));
            assertTrue(tooMany.nativeMessage().contains("takes 3 arguments"), tooMany.getMessage());
            assertThrows(TorchException.class, () -> add.call(Tensor.ones(2), Tensor.ones(3)));
            assertThrows(IllegalArgumentException.class, () -> add.call(new Object(), Tensor.ones(1)));
        }
    }

    @Test
    void aValueOfTheWrongKindIsNamedByItsArgument() {
        try (Scope scope = Scope.open()) {
            Op add = Op.find("aten::add", "Tensor");
            var notATensor = assertThrows(TorchException.class, () -> add.call(Tensor.ones(1), 2.0));
            assertTrue(notATensor.nativeMessage().contains("argument 1 'other' expects Tensor, got a float"), notATensor.getMessage());
            var notAScalar = assertThrows(TorchException.class, () -> add.call(Tensor.ones(1), Tensor.ones(1), "two"));
            assertTrue(notAScalar.nativeMessage().contains("argument 2 'alpha'"), notAScalar.getMessage());
            var notAList = assertThrows(TorchException.class, () -> Op.find("aten::sum", "dim_IntList").call(Tensor.ones(2), Tensor.ones(1)));
            assertTrue(notAList.nativeMessage().contains("argument 1 'dim'"), notAList.getMessage());
            var noneForRequired = assertThrows(TorchException.class, () -> add.call(null, Tensor.ones(1)));
            assertTrue(noneForRequired.nativeMessage().contains("argument 0 'self' expects Tensor, got None"), noneForRequired.getMessage());
            // what the schema allows still passes: an int for a Scalar, None for an optional
            assertEquals(3.0, add.callTensor(Tensor.ones(1), Tensor.ones(1), 2L).item());
            assertEquals(2.0, Op.find("aten::sum", "dim_IntList").callTensor(Tensor.ones(2), new long[] {0}, false, null).item());
        }
    }
}
