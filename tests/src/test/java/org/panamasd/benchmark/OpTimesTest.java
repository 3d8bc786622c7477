package org.panamasd.benchmark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.panamasd.Functional;
import org.panamasd.Op;
import org.panamasd.OpTimes;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** The op timer records the calls made while it is on, by name, and nothing otherwise; names fall into their families. */
class OpTimesTest extends NativeTest {
    @Test
    void recordsOnlyWhileOn() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.ones(1, 2, 4, 4), w = Tensor.ones(3, 2, 3, 3);
            x.add(x);  // before start: not recorded
            OpTimes.start();
            Map<String, OpTimes.Stat> ops;
            try {
                Functional.conv2d(x, w, null, 1, 1);
                Functional.conv2d(x, w, null, 1, 1);
                x.add(x);  // the written-out fast path
                x.chunk(2, 1);  // several results
                Op.find("aten::hardtanh", "").callTensor(x, -1.0, 1.0);  // boxed
            } finally {
                ops = OpTimes.stop();
            }
            x.add(x);  // after stop: not recorded
            assertFalse(OpTimes.recording());
            assertEquals(2, ops.get("psd_tensor_conv2d").calls());
            assertEquals(1, ops.get("psd_tensor_add").calls());
            assertEquals(1, ops.get("psd_tensor_chunk").calls());
            assertEquals(1, ops.get("aten::hardtanh").calls());
            assertTrue(ops.get("psd_tensor_conv2d").nanos() > 0);
            assertEquals(4, ops.size(), ops.toString());  // ones() ran before start
        }
    }

    @Test
    void families() {
        Map<String, OpFamily> expected = Map.ofEntries(Map.entry("psd_tensor_conv2d", OpFamily.CONV), Map.entry("psd_tensor_linear", OpFamily.MATMUL),
                Map.entry("aten::addmm", OpFamily.MATMUL), Map.entry("psd_tensor_scaled_dot_product_attention", OpFamily.ATTENTION),
                Map.entry("psd_tensor_baddbmm", OpFamily.ATTENTION), Map.entry("psd_tensor_softmax", OpFamily.ATTENTION),
                Map.entry("psd_tensor_group_norm", OpFamily.NORM), Map.entry("aten::layer_norm", OpFamily.NORM),
                Map.entry("psd_tensor_silu", OpFamily.ELEMENTWISE), Map.entry("aten::mul_.Tensor", OpFamily.ELEMENTWISE),
                Map.entry("psd_tensor_cat", OpFamily.OTHER), Map.entry("psd_tensor_interpolate", OpFamily.OTHER));
        expected.forEach((name, family) -> assertEquals(family, OpFamily.of(name), name));
    }
}
