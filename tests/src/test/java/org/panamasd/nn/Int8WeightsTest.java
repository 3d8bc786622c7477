package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.support.NativeTest;

/**
 * int8 weights ({@link WeightFormat#INT8}): the per-channel quantization (hand-worked values), the native
 * dequantization (against the product in Java and libtorch's own bfloat16 rounding), and Linear and Conv2d
 * loaded as int8 against the same layers in float32, within the bound that the rounding allows.
 */
class Int8WeightsTest extends NativeTest {

    @Test
    void eachOutputChannelIsScaledByItsLargestMagnitude() {
        try (Scope s = Scope.open()) {
            // row 0: largest 1.0, so the step is 1/127: 0.5 -> 63.5 rounds to even 64, 0.25 -> 31.75 -> 32
            // row 1: all zero (scale 1, values 0); row 2: largest 254, step 2: 3 -> 1.5 -> 2, -1 -> -0.5 -> -0 (to even)
            Tensor w = Tensor.of(new float[] {0.5f, -1.0f, 0.25f, 0f, 0f, 0f, 3f, -1f, 254f}, 3, 3);
            LayerWeight q = LayerWeight.int8(w);
            assertTrue(q.quantized());
            assertEquals(DType.INT8, q.stored().dtype());
            assertArrayEquals(new long[] {3, 3}, q.shape());
            assertArrayEquals(new long[] {64, -127, 32, 0, 0, 0, 2, 0, 127}, q.stored().toLongArray());
            assertArrayEquals(new float[] {1f / 127, 1f, 2f}, q.scale().toFloatArray(), 1e-9f);
        }
    }

    @Test
    void dequantizationIsTheProductRoundedOnceToTheComputeDtype() {
        try (Scope s = Scope.open(); Generator g = new Generator(11)) {
            Tensor dense = Tensor.randn(g, 7, 3, 3, 3).mul(0.2);  // a conv weight: 7 output channels
            LayerWeight q = LayerWeight.int8(dense);
            long[] values = q.stored().toLongArray();
            float[] scale = q.scale().toFloatArray();
            float[] expected = new float[values.length];
            int perRow = values.length / 7;
            for (int i = 0; i < values.length; i++) expected[i] = (float) values[i] * scale[i / perRow];
            Tensor f32 = q.in(DType.FLOAT32);
            assertArrayEquals(dense.shape(), f32.shape());
            assertArrayEquals(expected, f32.toFloatArray(), 0f);
            Tensor bf16 = q.in(DType.BFLOAT16);
            assertEquals(DType.BFLOAT16, bf16.dtype());
            assertArrayEquals(Tensor.of(expected, dense.shape()).to(DType.BFLOAT16).toFloatArray(), bf16.toFloatArray(), 0f,
                    "libtorch's own round-to-nearest-even of the float32 product");
            // each weight within half a step of the original
            float[] original = dense.toFloatArray();
            for (int i = 0; i < original.length; i++) assertEquals(original[i], expected[i], scale[i / perRow] / 2 + 1e-7, "weight " + i);
        }
    }

    @Test
    void badOperandsAreRefusedByName() {
        try (Scope s = Scope.open()) {
            Tensor values = Tensor.zeros(DType.INT8, 4, 2);
            var e = assertThrows(RuntimeException.class, () -> Functional.dequantizeRows(values, Tensor.ones(3), DType.FLOAT32));
            assertTrue(e.getMessage().contains("scale"), e.getMessage());
            e = assertThrows(RuntimeException.class, () -> Functional.dequantizeRows(Tensor.zeros(4, 2), Tensor.ones(4), DType.FLOAT32));
            assertTrue(e.getMessage().contains("int8"), e.getMessage());
            e = assertThrows(RuntimeException.class, () -> Functional.dequantizeRows(values, Tensor.ones(4), DType.INT64));
            assertTrue(e.getMessage().contains("float32 or bfloat16"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new LayerWeight(Tensor.zeros(4, 2), Tensor.ones(4)));
            e = assertThrows(RuntimeException.class, () -> LayerWeight.int8(Tensor.of(new float[] {1, 2, Float.NaN, 4}, 2, 2)));
            assertTrue(e.getMessage().contains("row 1") && e.getMessage().contains("non-finite"), e.getMessage());
            // a row whose step would underflow to 0 (largest magnitude a denormal) keeps scale 1 rather than dividing by 0
            LayerWeight tiny = LayerWeight.int8(Tensor.of(new float[] {Float.MIN_VALUE, -Float.MIN_VALUE, 1f, 0.5f}, 2, 2));
            assertArrayEquals(new float[] {1f, 1f / 127}, tiny.scale().toFloatArray(), 1e-9f);
            assertArrayEquals(new long[] {0, 0, 127, 64}, tiny.stored().toLongArray());
            e = assertThrows(RuntimeException.class, () -> Functional.quantizeRows(Tensor.ones(3, 2), Tensor.ones(2)));
            assertTrue(e.getMessage().contains("scale"), e.getMessage());
            var parse = assertThrows(IllegalArgumentException.class, () -> WeightFormat.parse("int4"));
            assertTrue(parse.getMessage().contains("dense or int8") && parse.getMessage().contains("int4"), parse.getMessage());
        }
    }

    @Test
    void layersLoadedAsInt8ComputeWithinTheRoundingBound(@TempDir Path dir) {
        Path file = dir.resolve("layers.safetensors");
        try (Scope s = Scope.open(); Generator g = new Generator(12)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("lin.weight", Tensor.randn(g, 16, 24).mul(0.3).to(DType.FLOAT16));  // a float16 checkpoint
            tensors.put("lin.bias", Tensor.randn(g, 16));
            tensors.put("conv.weight", Tensor.randn(g, 8, 4, 3, 3).mul(0.1));
            tensors.put("conv.bias", Tensor.randn(g, 8));
            SafeTensorsWriter.write(tensors, null, file);
        }
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            try (Scope s = Scope.open(); Generator g = new Generator(13); StateDict exact = StateDict.open(file);
                 StateDict dense = StateDict.open(file, Device.CPU, dtype); StateDict int8 = StateDict.open(file, Device.CPU, dtype, WeightFormat.INT8)) {
                Linear linear = new Linear(dense, "lin", 24, 16, true), linear8 = new Linear(int8, "lin", 24, 16, true);
                Conv2d conv = new Conv2d(dense, "conv", 4, 8, 3, 1, 1), conv8 = new Conv2d(int8, "conv", 4, 8, 3, 1, 1);
                assertEquals(DType.INT8, linear8.weight.dtype());
                assertEquals(DType.INT8, conv8.weight.dtype());
                assertEquals(DType.INT8, int8.parameters().get("conv.weight").dtype());
                assertEquals(dtype, linear8.bias.dtype(), "biases keep the compute dtype");
                assertEquals(dtype, int8.dtype());
                Tensor x = Tensor.randn(g, 3, 24).to(dtype), image = Tensor.randn(g, 2, 4, 6, 6).to(dtype);
                // every output sums (input x weight) over its inputs: its error is at most the inputs' absolute sum
                // times half the largest step, plus bfloat16's rounding of the weights and of the output
                double linearInputs = x.to(DType.FLOAT32).abs().sum(new long[] {1}, false).max().item();
                double convInputs = 4 * 3 * 3 * image.to(DType.FLOAT32).abs().max().item();
                assertWithinBound(linear.forward(x), linear8.forward(x), linearInputs, exact.get("lin.weight", 16, 24), dtype, "linear");
                assertWithinBound(conv.forward(image), conv8.forward(image), convInputs, exact.get("conv.weight", 8, 4, 3, 3), dtype, "conv");
            }
        }
    }

    private static void assertWithinBound(Tensor dense, Tensor quantized, double inputAbsSum, Tensor weight, DType dtype, String what) {
        assertEquals(dtype, quantized.dtype(), what + " computes in the input's dtype");
        Tensor w = weight.to(DType.FLOAT32);
        double largest = w.abs().max().item(), halfStep = largest / 127 / 2;
        boolean bf16 = dtype == DType.BFLOAT16;
        double outputs = dense.to(DType.FLOAT32).abs().max().item();
        double bound = inputAbsSum * (halfStep + (bf16 ? 0x1p-8 * largest : 0)) + (bf16 ? 0x1p-7 * outputs : 1e-5);
        double error = dense.to(DType.FLOAT32).sub(quantized.to(DType.FLOAT32)).abs().max().item();
        assertTrue(error <= bound, dtype + " " + what + ": error " + error + " > bound " + bound);
        assertTrue(error > 0, dtype + " " + what + ": the int8 layer must differ from the dense one somewhere (was it quantized?)");
    }
}
