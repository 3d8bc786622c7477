package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.MemoryFormat;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.Torch;
import org.panamasd.nn.CpuFeatures;
import org.panamasd.support.NativeTest;

/**
 * The shim's fused group norm (+ SiLU), layer norm and GEGLU kernels against libtorch's float64 ops on the same
 * values (which the kernels never compute), on every kernel set this CPU runs, in float32 and bfloat16; and the
 * inputs they leave to libtorch.
 */
class FusedKernelsTest extends NativeTest {
    private final String isaBefore = Torch.flashAttentionIsa();
    private final boolean fusedBefore = Torch.fusedKernels();

    @AfterEach
    void restore() {
        Torch.setFlashAttentionIsa(isaBefore);
        Torch.setFusedKernels(fusedBefore);
    }

    /** The CPU's kernels and the older ones it can run too (AVX2's on an AVX-512 CPU). */
    private static List<String> kernels() {
        Assumptions.assumeFalse(Torch.flashAttentionIsa().equals("none"), "this CPU has neither AVX-512 nor AVX2 + FMA kernels: every call takes libtorch's ops");
        return Torch.flashAttentionIsa().equals("avx512") && CpuFeatures.current().has("avx2") && CpuFeatures.current().has("fma")
                ? List.of("avx512", "avx2") : List.of(Torch.flashAttentionIsa());
    }

    /**
     * |got - expected| <= r |expected| + 2^-20 scale: r one rounding of the output's dtype (bfloat16 2^-8, float32
     * 2^-22); scale what float32 arithmetic inside the kernel is relative to (a norm: |x| / std |gamma| + |beta|, a
     * GEGLU: |value| |gate|), 2^-20 being 16 float32 epsilons.
     */
    private static void assertWithin(double[] expected, double[] got, DType dtype, double[] scale, String what) {
        double relative = dtype == DType.BFLOAT16 ? 1.0 / 256 : 1.0 / (1 << 22);
        assertEquals(expected.length, got.length, what);
        for (int i = 0; i < expected.length; i++) {
            double bound = relative * Math.abs(expected[i]) + scale[i] / (1 << 20);
            if (!(Math.abs(got[i] - expected[i]) <= bound))
                throw new AssertionError(what + ": element " + i + " expected " + expected[i] + " got " + got[i] + " (bound " + bound + ")");
        }
    }

    private static void assertWithin(double[] expected, double[] got, DType dtype, double scale, String what) {
        double[] each = new double[expected.length];
        java.util.Arrays.fill(each, scale);
        assertWithin(expected, got, dtype, each, what);
    }

    /** A GEGLU's error scale per output: |value| |gate|. */
    private static double[] gegluScale(Tensor x) {
        Tensor[] halves = x.to(DType.FLOAT64).chunk(2, -1);
        return halves[0].abs().mul(halves[1].abs()).toDoubleArray();
    }

    /**
     * A norm's error scale over contiguous groups of {@code size} values: the largest |x| / std of a group times the
     * largest |gamma|, plus the largest |beta| (1 and 0 when absent).
     */
    private static double normScale(Tensor x, long size, Tensor w, Tensor b) {
        double[] v = x.to(DType.FLOAT64).toDoubleArray();
        double worst = 0;
        for (int start = 0; start < v.length; start += (int) size) {
            double mean = 0, squares = 0, largest = 0;
            for (int i = start; i < start + size; i++) mean += v[i] / size;
            for (int i = start; i < start + size; i++) {
                squares += (v[i] - mean) * (v[i] - mean) / size;
                largest = Math.max(largest, Math.abs(v[i]));
            }
            worst = Math.max(worst, largest / Math.sqrt(squares + 1e-5));
        }
        double gamma = w == null ? 1 : w.to(DType.FLOAT64).abs().max().item(), beta = b == null ? 0 : b.to(DType.FLOAT64).abs().max().item();
        return worst * gamma + beta;
    }

    private static double[] gegluInFloat64(Tensor x) {
        Tensor[] halves = x.to(DType.FLOAT64).chunk(2, -1);
        return halves[0].mul(halves[1].gelu()).toDoubleArray();
    }

    @Test
    void gegluMatchesFloat64OnEveryKernelSet() {
        long[][] shapes = {{3, 7, 2 * 37}, {2, 64, 2 * 320}, {1, 2 * 1}, {5, 2 * 16}};
        for (String isa : kernels()) {
            Torch.setFlashAttentionIsa(isa);
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                try (Scope s = Scope.open(); Generator g = new Generator(1); var off = Autograd.inferenceMode()) {
                    for (long[] shape : shapes) {
                        // gates over erf's whole range (|g| up to ~12): both tails, the polynomial's middle and 0
                        Tensor x = Tensor.randn(g, shape).mul(4).to(dtype);
                        long before = Torch.fusedKernelCalls();
                        Tensor y = Functional.geglu(x);
                        assertEquals(before + 1, Torch.fusedKernelCalls(), "the fused kernel computed it (" + isa + ", " + dtype + ")");
                        assertEquals(dtype, y.dtype());
                        long[] half = shape.clone();
                        half[half.length - 1] /= 2;
                        assertEquals(List.of(boxed(half)), List.of(boxed(y.shape())));
                        assertWithin(gegluInFloat64(x), y.toDoubleArray(), dtype, gegluScale(x), "geglu " + isa + " " + dtype + " " + List.of(boxed(shape)));
                    }
                }
            }
        }
    }

    @Test
    void groupNormWithAndWithoutSiluMatchesFloat64() {
        // batch, channels, spatial...; the last: 4,608 values a group (pieces of the statistics' sums), several threads' ranges
        long[][] shapes = {{2, 12, 5, 7}, {1, 64, 16, 16}, {3, 8, 1, 1}, {2, 6, 33}, {1, 64, 48, 48}};
        long[] groups = {4, 32, 8, 3, 32};
        for (String isa : kernels()) {
            Torch.setFlashAttentionIsa(isa);
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                try (Scope s = Scope.open(); Generator g = new Generator(2); var off = Autograd.inferenceMode()) {
                    for (int i = 0; i < shapes.length; i++) {
                        long c = shapes[i][1];
                        // a mean far from 0 against the spread, as residual streams have: a one-pass variance loses it
                        Tensor x = Tensor.randn(g, shapes[i]).add(shapes[i][0] == 1 ? 60 : 0.5).to(dtype);
                        Tensor w = Tensor.randn(g, c).to(dtype), b = Tensor.randn(g, c).to(dtype);
                        Tensor x64 = x.to(DType.FLOAT64), w64 = w.to(DType.FLOAT64), b64 = b.to(DType.FLOAT64);
                        String what = isa + " " + dtype + " " + List.of(boxed(shapes[i])) + " groups " + groups[i];
                        long before = Torch.fusedKernelCalls();
                        Tensor plain = Functional.groupNorm(x, groups[i], w, b, 1e-5), silu = Functional.groupNormSilu(x, groups[i], w, b, 1e-5);
                        Tensor bare = Functional.groupNorm(x, groups[i], null, null, 1e-6);
                        assertEquals(before + 3, Torch.fusedKernelCalls(), "the fused kernels computed " + what);
                        Tensor expected = Functional.groupNorm(x64, groups[i], w64, b64, 1e-5);
                        long size = x.numel() / shapes[i][0] / groups[i];
                        double scale = normScale(x, size, w, b);
                        assertWithin(expected.toDoubleArray(), plain.toDoubleArray(), dtype, scale, "group norm " + what);
                        assertWithin(expected.silu().toDoubleArray(), silu.toDoubleArray(), dtype, scale, "group norm + silu " + what);
                        assertWithin(Functional.groupNorm(x64, groups[i], null, null, 1e-6).toDoubleArray(), bare.toDoubleArray(), dtype,
                                normScale(x, size, null, null), "group norm without affine " + what);
                    }
                }
            }
        }
    }

    @Test
    void layerNormMatchesFloat64() {
        long[][] shapes = {{3, 5, 77}, {2, 10, 320}, {4, 1}, {2, 3, 4, 6}, {40, 2500}};  // the last: pieces, several ranges
        for (String isa : kernels()) {
            Torch.setFlashAttentionIsa(isa);
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                try (Scope s = Scope.open(); Generator g = new Generator(3); var off = Autograd.inferenceMode()) {
                    for (long[] shape : shapes) {
                        long d = shape[shape.length - 1];
                        Tensor x = Tensor.randn(g, shape).mul(3).add(40).to(dtype);
                        Tensor w = Tensor.randn(g, d).to(dtype), b = Tensor.randn(g, d).to(dtype);
                        String what = isa + " " + dtype + " " + List.of(boxed(shape));
                        long before = Torch.fusedKernelCalls();
                        Tensor y = Functional.layerNorm(x, new long[] {d}, w, b, 1e-5), bare = Functional.layerNorm(x, new long[] {d}, null, null, 1e-5);
                        assertEquals(before + 2, Torch.fusedKernelCalls(), "the fused kernels computed " + what);
                        assertWithin(Functional.layerNorm(x.to(DType.FLOAT64), new long[] {d}, w.to(DType.FLOAT64), b.to(DType.FLOAT64), 1e-5).toDoubleArray(),
                                y.toDoubleArray(), dtype, normScale(x, d, w, b), "layer norm " + what);
                        assertWithin(Functional.layerNorm(x.to(DType.FLOAT64), new long[] {d}, null, null, 1e-5).toDoubleArray(), bare.toDoubleArray(), dtype,
                                normScale(x, d, null, null), "layer norm without affine " + what);
                    }
                    // over the last two dimensions
                    Tensor x = Tensor.randn(g, 2, 3, 4, 6).to(dtype);
                    assertWithin(Functional.layerNorm(x.to(DType.FLOAT64), new long[] {4, 6}, null, null, 1e-5).toDoubleArray(),
                            Functional.layerNorm(x, new long[] {4, 6}, null, null, 1e-5).toDoubleArray(), dtype, normScale(x, 24, null, null),
                            "layer norm over (4, 6) " + isa);
                }
            }
        }
    }

    @Test
    void aNormsPerChannelMapWithSiluMatchesFloat64InBothLayouts() {
        long[][] shapes = {{2, 40, 6, 7}, {1, 3, 5, 5}, {1, 128, 9, 4}};  // batch, channels, height, width
        for (String isa : kernels()) {
            Torch.setFlashAttentionIsa(isa);
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                try (Scope s = Scope.open(); Generator g = new Generator(7); var off = Autograd.inferenceMode()) {
                    for (long[] shape : shapes) {
                        Tensor x = Tensor.randn(g, shape).mul(2).to(dtype);
                        for (long scaleBatch : new long[] {shape[0], 1}) {
                            // float32 scale and shift, as GroupNorm.scaleShift gives them
                            Tensor scale = Tensor.randn(g, scaleBatch, shape[1], 1, 1), shift = Tensor.randn(g, scaleBatch, shape[1], 1, 1);
                            double[] expected = x.to(DType.FLOAT64).mul(scale.to(DType.FLOAT64)).add(shift.to(DType.FLOAT64)).silu().toDoubleArray();
                            double[] scaleOf = x.to(DType.FLOAT64).abs().mul(scale.to(DType.FLOAT64).abs()).add(shift.to(DType.FLOAT64).abs()).toDoubleArray();
                            for (boolean channelsLast : new boolean[] {false, true}) {
                                Tensor input = channelsLast ? x.contiguous(MemoryFormat.CHANNELS_LAST) : x;
                                String what = isa + " " + dtype + " " + List.of(boxed(shape)) + " scale batch " + scaleBatch + (channelsLast ? " channels-last" : "");
                                long before = Torch.fusedKernelCalls();
                                Tensor y = Functional.scaleShiftSilu(input, scale, shift);
                                assertEquals(before + 1, Torch.fusedKernelCalls(), "the fused kernel computed " + what);
                                assertEquals(dtype, y.dtype());
                                assertEquals(channelsLast && shape[1] > 1, y.isContiguous(MemoryFormat.CHANNELS_LAST) && !y.isContiguous(), "layout kept: " + what);
                                assertWithin(expected, y.contiguous().toDoubleArray(), dtype, scaleOf, what);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void channelMomentsMatchFloat64SumsInEveryLayoutAndBand() {
        for (String isa : kernels()) {
            Torch.setFlashAttentionIsa(isa);
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                try (Scope s = Scope.open(); Generator g = new Generator(8); var off = Autograd.inferenceMode()) {
                    // the last: 8 channels over 10,240 pixels a sample, several threads' ranges merged
                    for (long[] shape : new long[][] {{2, 40, 12, 7}, {1, 3, 5, 5}, {3, 130, 4, 9}, {2, 8, 64, 160}}) {
                        // a large mean: the squares' sum must keep the spread's digits
                        Tensor x = Tensor.randn(g, shape).add(30).to(dtype);
                        for (boolean channelsLast : new boolean[] {false, true}) {
                            Tensor laid = channelsLast ? x.contiguous(MemoryFormat.CHANNELS_LAST) : x;
                            // the whole, and a band of rows (a view, contiguous in neither layout when batch > 1)
                            for (long[] band : new long[][] {{0, shape[2]}, {1, shape[2] - 2}}) {
                                Tensor part = laid.narrow(2, band[0], band[1]);
                                String what = isa + " " + dtype + " " + List.of(boxed(shape)) + (channelsLast ? " channels-last" : "") + " rows " + band[0] + "+" + band[1];
                                long before = Torch.fusedKernelCalls();
                                Tensor moments = Functional.channelMoments(part);
                                // each sample's rows are one run in either layout, wherever the samples lie
                                assertEquals(before + 1, Torch.fusedKernelCalls(), "fused: " + what);
                                assertEquals(List.of(2L, shape[0], shape[1]), List.of(boxed(moments.shape())), what);
                                assertEquals(DType.FLOAT64, moments.dtype());
                                Tensor d = part.to(DType.FLOAT64);
                                double[] expectedSums = d.sum(new long[] {2, 3}, false).toDoubleArray();
                                double[] expectedSquares = d.mul(d).sum(new long[] {2, 3}, false).toDoubleArray();
                                // double sums of exact float values: only the summation order differs
                                assertClose(expectedSums, moments.get(0).toDoubleArray(), 1e-9, 1e-12);
                                assertClose(expectedSquares, moments.get(1).toDoubleArray(), 1e-9, 1e-12);
                            }
                        }
                    }
                    // columns narrowed: rows are no longer runs; libtorch's float64 sums, the same values
                    Tensor columns = Tensor.randn(g, 2, 5, 6, 8).to(dtype).narrow(3, 1, 5);
                    long before = Torch.fusedKernelCalls();
                    Tensor moments = Functional.channelMoments(columns);
                    assertEquals(before, Torch.fusedKernelCalls(), "a column band is not fused");
                    assertClose(columns.to(DType.FLOAT64).sum(new long[] {2, 3}, false).toDoubleArray(), moments.get(0).toDoubleArray(), 1e-9, 1e-12);
                    assertThrows(TorchException.class, () -> Functional.channelMoments(Tensor.randn(g, 3, 4)));
                }
            }
        }
    }

    @Test
    void nanStaysNaNWhereItIsAndNowhereElse() {
        for (String isa : kernels()) {
            Torch.setFlashAttentionIsa(isa);
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                try (Scope s = Scope.open(); Generator g = new Generator(4); var off = Autograd.inferenceMode()) {
                    Tensor x = Tensor.randn(g, 2, 64);
                    float[] values = x.toFloatArray();
                    values[32 + 5] = Float.NaN;  // row 0's gate 5
                    Tensor y = Functional.geglu(Tensor.of(values, 2, 64).to(dtype));
                    double[] out = y.toDoubleArray();
                    for (int i = 0; i < out.length; i++) assertEquals(i == 5, Double.isNaN(out[i]), "geglu " + isa + " " + dtype + " element " + i);
                    // a NaN in a group makes its group NaN (its statistics), the other groups finite
                    float[] image = Tensor.randn(g, 1, 4, 3, 3).toFloatArray();
                    image[2] = Float.NaN;  // channel 0, group 0 of 2
                    double[] normed = Functional.groupNormSilu(Tensor.of(image, 1, 4, 3, 3).to(dtype), 2, null, null, 1e-5).toDoubleArray();
                    for (int i = 0; i < normed.length; i++) assertEquals(i < 18, Double.isNaN(normed[i]), "group norm " + isa + " " + dtype + " element " + i);
                }
            }
        }
    }

    @Test
    void inputsTheKernelsDoNotTakeGoToLibtorchWithTheSameResult() {
        kernels();
        try (Scope s = Scope.open(); Generator g = new Generator(5)) {
            // a graph to record: libtorch's ops, gradients flow through the GEGLU and the norms
            try (var on = Autograd.enableGrad()) {
                Tensor x = Tensor.randn(g, 3, 8).requiresGrad(true);
                long before = Torch.fusedKernelCalls();
                Tensor y = Functional.layerNorm(Functional.geglu(x), new long[] {4}, null, null, 1e-5);
                assertEquals(before, Torch.fusedKernelCalls(), "nothing fused under a graph");
                y.mul(y).sum().backward();
                assertTrue(x.grad() != null && x.grad().abs().sum().item() > 0, "gradients reach the input");
            }
            try (var off = Autograd.inferenceMode()) {
                // a channels-last input, a strided view, float64 and float16: libtorch's ops
                Tensor image = Tensor.randn(g, 2, 8, 5, 5);
                Tensor channelsLast = image.contiguous(MemoryFormat.CHANNELS_LAST);
                Tensor strided = Tensor.randn(g, 6, 20).narrow(1, 2, 16);
                long before = Torch.fusedKernelCalls();
                double[] fromChannelsLast = Functional.groupNormSilu(channelsLast, 4, null, null, 1e-5).toDoubleArray();
                double[] fromStrided = Functional.geglu(strided).toDoubleArray();
                Functional.layerNorm(Tensor.randn(g, 3, 7).to(DType.FLOAT16), new long[] {7}, null, null, 1e-5);
                assertEquals(before, Torch.fusedKernelCalls(), "none of them was fused");
                assertWithin(Functional.groupNormSilu(image, 4, null, null, 1e-5).toDoubleArray(), fromChannelsLast, DType.FLOAT32,
                        normScale(image, 2 * 25, null, null), "channels-last");
                assertWithin(gegluInFloat64(strided.contiguous()), fromStrided, DType.FLOAT32, gegluScale(strided.contiguous()), "strided");
                // a float32 input with float64 norm parameters or map: libtorch's ops and their promotion
                long mixedBefore = Torch.fusedKernelCalls();
                Tensor mapped = Functional.scaleShiftSilu(image, Tensor.randn(g, 2, 8, 1, 1).to(DType.FLOAT64), Tensor.randn(g, 2, 8, 1, 1).to(DType.FLOAT64));
                assertEquals(DType.FLOAT64, mapped.dtype(), "float64 scale and shift promote, as addcmul does");
                assertEquals(mixedBefore, Torch.fusedKernelCalls(), "not fused");
                // affine parameters of the wrong shape: refused (by libtorch's op), not read as if flat
                Tensor eight = Tensor.randn(g, 2, 8, 3, 3);
                assertThrows(TorchException.class, () -> Functional.groupNorm(eight, 4, Tensor.ones(2, 4), null, 1e-5));
                assertThrows(TorchException.class, () -> Functional.layerNorm(Tensor.randn(g, 3, 8), new long[] {8}, Tensor.ones(2, 4), null, 1e-5));
                // switched off: libtorch's ops, the same values within float32 rounding
                Tensor x = Tensor.randn(g, 4, 2 * 24);
                double[] fused = Functional.geglu(x).toDoubleArray();
                Torch.setFusedKernels(false);
                assertFalse(Torch.fusedKernels());
                long offCalls = Torch.fusedKernelCalls();
                double[] libtorch = Functional.geglu(x).toDoubleArray();
                assertEquals(offCalls, Torch.fusedKernelCalls());
                assertWithin(libtorch, fused, DType.FLOAT32, gegluScale(x), "fused against libtorch's gelu");
            }
        }
    }

    @Test
    void aGegluInputWithoutTwoHalvesIsNamed() {
        try (Scope s = Scope.open(); Generator g = new Generator(6)) {
            TorchException e = assertThrows(TorchException.class, () -> Functional.geglu(Tensor.randn(g, 2, 5)));
            assertTrue(e.getMessage().contains("[2, 5]") && e.getMessage().contains("gate"), e.getMessage());
            TorchException scalar = assertThrows(TorchException.class, () -> Functional.geglu(Tensor.scalar(1.0)));
            assertTrue(scalar.getMessage().contains("geglu"), scalar.getMessage());
        }
    }

    private static Long[] boxed(long[] a) {
        return java.util.Arrays.stream(a).boxed().toArray(Long[]::new);
    }
}
