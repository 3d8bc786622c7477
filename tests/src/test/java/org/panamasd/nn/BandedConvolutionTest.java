package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.MemoryFormat;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.AllocatorPeak;
import org.panamasd.support.NativeTest;

/**
 * Banded convolutions compute the same values as the whole-tensor path (the same convolution on the same
 * inputs, in pieces: fp32 differences only from the kernels' summation order) while never holding the
 * normalised or upsampled activation whole. Sizes are above the (test-lowered) banding threshold and not
 * multiples of a band, so the last band is a short one; both layouts, batch 1 and 2.
 */
@org.junit.jupiter.api.extension.ExtendWith(SmallBands.class)
class BandedConvolutionTest extends NativeTest {

    @Test
    void normSiluConvEqualsTheWholeTensorPathAndNeverHoldsTheNormalisedInput() {
        try (RandomWeights w = new RandomWeights(1); Scope s = Scope.open(); Generator g = new Generator(2); var off = Autograd.noGrad()) {
            GroupNorm norm = new GroupNorm(w, "norm", 8, 32, 1e-6);
            Conv2d conv = new Conv2d(w, "conv", 32, 32, 3, 1, 1);
            norm.weight.copyFrom(Tensor.randn(g, 32));
            norm.bias.copyFrom(Tensor.randn(g, 32));
            for (MemoryFormat layout : new MemoryFormat[] {MemoryFormat.CHANNELS_LAST, MemoryFormat.CONTIGUOUS}) {
                for (long batch : new long[] {1, 2}) {
                    Tensor x = Tensor.randn(g, batch, 32, 1100 / batch, 520).mul(3).add(1).contiguous(layout);
                    long convolved = x.numel() * 4;
                    assertTrue(convolved >= BandedConvolution.minBytes, "the case must be banded");
                    // the exact values, from float64: libtorch's own fp32 channels-last GroupNorm is off by
                    // about 3e-5 relative here, so the whole fp32 path is no reference at 1e-5
                    Tensor expected = Functional.conv2d(Functional.groupNormSilu(x.to(DType.FLOAT64), 8, f64(norm.weight), f64(norm.bias), 1e-6),
                            f64(conv.weight), f64(conv.bias), 1, 1).to(DType.FLOAT32);
                    long peak = AllocatorPeak.above(() -> BandedConvolution.normSiluConv(norm, conv, x));
                    Tensor banded = BandedConvolution.normSiluConv(norm, conv, x);
                    assertClose(expected, banded, layout + " batch " + batch);
                    assertTrue(peak < expected.numel() * 4 + convolved / 2,
                            "peak " + peak + " bytes: the output plus well under the normalised input (" + convolved + ")");
                    // written over its input: the same tensor comes back, holding the same values
                    Tensor copy = x.copy();
                    long memory = copy.address();
                    Tensor over = BandedConvolution.normSiluConvOver(norm, conv, copy.giveUp());
                    assertEquals(memory, over.address(), "the result is in the given-up memory");
                    assertThrows(IllegalStateException.class, copy::shape, "the given-up handle is closed");
                    assertClose(expected, over, layout + " batch " + batch + ", over its input");
                }
            }
        }
    }

    @Test
    void upsampleConvEqualsTheWholeTensorPathAndNeverHoldsTheUpsampledInput() {
        try (RandomWeights w = new RandomWeights(3); Scope s = Scope.open(); Generator g = new Generator(4); var off = Autograd.noGrad()) {
            Conv2d conv = new Conv2d(w, "conv", 32, 24, 3, 1, 1);
            for (MemoryFormat layout : new MemoryFormat[] {MemoryFormat.CHANNELS_LAST, MemoryFormat.CONTIGUOUS}) {
                // 2 x 131 rows of 75: 262 upsampled rows, not a multiple of the test's 28-row bands
                Tensor x = Tensor.randn(g, 2, 32, 131, 150).contiguous(layout);
                assertTrue(4 * x.numel() * 4 >= BandedConvolution.minBytes, "the case must be banded");
                Tensor expected = conv.forward(Functional.interpolate(x, 2.0, 2.0, Functional.Interpolation.NEAREST, null));
                long peak = AllocatorPeak.above(() -> BandedConvolution.upsampleConv(conv, x));
                assertClose(expected, BandedConvolution.upsampleConv(conv, x), layout.toString());
                assertTrue(peak < expected.numel() * 4 + 2 * x.numel() * 4,
                        "peak " + peak + " bytes: the output plus well under the upsampled input (" + 4 * x.numel() * 4 + ")");
            }
        }
    }

    @Test
    void keepingThePoolInAStepAWarmBandedPassMapsNoBlock() {
        // the trims a banded pass makes hand malloc's small bands back; the pool's free blocks go too in float32 by
        // default (the decode's peak RSS) and stay in bfloat16 by default or whenever keepPoolInStep says so, so the
        // next pass maps nothing (no page faults)
        org.junit.jupiter.api.Assumptions.assumeTrue(org.panamasd.MemoryStats.pool().enabled(), "the counting allocator's block pool is off");
        Boolean keep = BandedConvolution.keepPoolInStep;
        try (RandomWeights w = new RandomWeights(11); Scope s = Scope.open(); Generator g = new Generator(12); var off = Autograd.noGrad()) {
            Conv2d conv = new Conv2d(w, "conv", 32, 24, 3, 1, 1);
            Weights bfloat16 = (key, shape) -> w.get("half." + key, shape).detach().to(org.panamasd.DType.BFLOAT16);
            Conv2d half = new Conv2d(bfloat16, "conv", 32, 24, 3, 1, 1);
            Tensor x = Tensor.randn(g, 1, 32, 131, 150), xHalf = x.to(org.panamasd.DType.BFLOAT16);
            // setting, input in bfloat16, whether the pool's blocks stay
            Object[][] cases = {{true, false, true}, {false, false, false}, {null, false, false}, {null, true, true}, {false, true, false}};
            for (Object[] c : cases) {
                BandedConvolution.keepPoolInStep = (Boolean) c[0];
                boolean inHalf = (Boolean) c[1], kept = (Boolean) c[2];
                Conv2d layer = inHalf ? half : conv;
                Tensor input = inHalf ? xHalf : x;
                String what = "keepPoolInStep " + c[0] + (inHalf ? ", bfloat16" : ", float32");
                try (Scope first = Scope.open()) {
                    BandedConvolution.upsampleConv(layer, input);
                }
                org.panamasd.MemoryStats.Pool before = org.panamasd.MemoryStats.pool();
                try (Scope second = Scope.open()) {
                    BandedConvolution.upsampleConv(layer, input);
                }
                org.panamasd.MemoryStats.Pool after = org.panamasd.MemoryStats.pool();
                if (kept) {
                    assertTrue(after.hits() > before.hits(), what + ": the second pass takes pooled blocks: " + before + " -> " + after);
                    assertEquals(before.maps(), after.maps(), what + ": and maps none: " + before + " -> " + after);
                } else {
                    assertTrue(after.maps() > before.maps(), what + ": released in the pass, the blocks are mapped again: " + before + " -> " + after);
                }
            }
            assertThrows(IllegalArgumentException.class, () -> BandedConvolution.keepPoolSetting("maybe"));
            assertNull(BandedConvolution.keepPoolSetting(" "));
        } finally {
            BandedConvolution.keepPoolInStep = keep;
        }
    }

    @Test
    void addConv1x1EqualsAddingTheWholeProjection() {
        try (RandomWeights w = new RandomWeights(5); Scope s = Scope.open(); Generator g = new Generator(6); var off = Autograd.noGrad()) {
            Conv2d conv = new Conv2d(w, "shortcut", 64, 32, 1, 1, 0);
            Tensor x = Tensor.randn(g, 1, 64, 135, 128).contiguous(MemoryFormat.CHANNELS_LAST);
            Tensor target = Tensor.randn(g, 1, 32, 135, 128).contiguous(MemoryFormat.CHANNELS_LAST);
            Tensor expected = target.add(conv.forward(x));
            BandedConvolution.addConv1x1(target, conv, x);
            assertClose(expected, target, "shortcut");
        }
    }

    /**
     * With grad mode on, only the norm trainable (a fine-tune of norms over a frozen input and conv), writing over
     * the input would destroy what backward reads: the whole path runs and the norm's gradients are the plain
     * formula's.
     */
    @Test
    void underGradModeTheWholeTensorPathRunsAndGradientsAreThePlainOnes() {
        try (RandomWeights w = new RandomWeights(7); Scope s = Scope.open(); Generator g = new Generator(8)) {
            GroupNorm norm = new GroupNorm(w, "norm", 8, 32, 1e-6);
            Conv2d conv = new Conv2d(w, "conv", 32, 32, 3, 1, 1);
            conv.weight.requiresGrad(false);
            conv.bias.requiresGrad(false);
            Tensor x = Tensor.randn(g, 1, 32, 330, 130);
            Tensor[] expected = Autograd.grad(conv.forward(norm.forwardSilu(x)).sum(), java.util.List.of(norm.weight, norm.bias), false);
            Tensor input = x.copy();
            Tensor witness = input.view(input.shape());  // a second handle on the memory given up, to see it unchanged
            Tensor y = BandedConvolution.normSiluConvOver(norm, conv, input.giveUp());
            Tensor[] actual = Autograd.grad(y.sum(), java.util.List.of(norm.weight, norm.bias), false);
            assertClose(expected[0], actual[0], "norm weight gradient");
            assertClose(expected[1], actual[1], "norm bias gradient");
            assertClose(x, witness, "the input is not written over under grad mode");
        }
    }

    /**
     * bfloat16 activations (the bfloat16 VAE's): the banded path maps and activates in float32 and rounds once, as
     * the whole path's norm does, so it is no further from the float64 values than the whole path (a large mean,
     * 10, against a spread of 1, is where an affine map rounded to bfloat16 would cancel badly).
     */
    @Test
    void inBfloat16TheBandsAreAsAccurateAsTheWholePath() {
        try (Scope params = Scope.detached(); Scope s = Scope.open(); Generator g = new Generator(9); var off = Autograd.noGrad()) {
            Weights bf16 = (key, shape) -> (key.endsWith(".bias") ? Tensor.randn(g, shape).mul(0.1) : shape.length == 1 ? Tensor.randn(g, shape).mul(0.1).add(1)
                    : Tensor.randn(g, shape).mul(1 / Math.sqrt(shape[1] * 9.0))).to(DType.BFLOAT16).moveTo(params);
            GroupNorm norm = new GroupNorm(bf16, "norm", 8, 64, 1e-6);
            Conv2d conv = new Conv2d(bf16, "conv", 64, 64, 3, 1, 1);
            Tensor x = Tensor.randn(g, 1, 64, 190, 190).add(10).to(DType.BFLOAT16).contiguous(MemoryFormat.CHANNELS_LAST);
            assertTrue(x.numel() * 2 >= BandedConvolution.minBytes, "the case must be banded");
            Tensor exact = Functional.conv2d(Functional.groupNormSilu(f64(x), 8, f64(norm.weight), f64(norm.bias), 1e-6), f64(conv.weight), f64(conv.bias), 1, 1);
            double whole = f64(conv.forward(norm.forwardSilu(x))).sub(exact).abs().max().item();
            Tensor banded = BandedConvolution.normSiluConv(norm, conv, x);
            assertEquals(DType.BFLOAT16, banded.dtype());
            double bands = f64(banded).sub(exact).abs().max().item();
            assertTrue(bands <= 1.5 * whole, "banded max error " + bands + " against the whole path's " + whole);
        }
    }

    /**
     * Banding decides by a bfloat16 activation's float32 size: the whole path's norm upcasts all of it to float32
     * at once, so a bfloat16 tensor of half the threshold already costs that much there.
     */
    @Test
    void aBfloat16ActivationGoesByBandsFromHalfTheFloat32Threshold() {
        try (Scope params = Scope.detached(); Scope s = Scope.open(); Generator g = new Generator(10); var off = Autograd.noGrad()) {
            Weights bf16 = (key, shape) -> (shape.length == 1 ? Tensor.ones(shape) : Tensor.randn(g, shape).mul(1 / Math.sqrt(shape[1] * 9.0)))
                    .to(DType.BFLOAT16).moveTo(params);
            GroupNorm norm = new GroupNorm(bf16, "norm", 8, 32, 1e-6);
            Conv2d conv = new Conv2d(bf16, "conv", 32, 32, 3, 1, 1);
            Tensor x = Tensor.randn(g, 1, 32, 200, 200).to(DType.BFLOAT16).contiguous(MemoryFormat.CHANNELS_LAST);
            long bf16Bytes = x.numel() * 2;
            assertTrue(bf16Bytes < BandedConvolution.minBytes && 2 * bf16Bytes >= BandedConvolution.minBytes, "bfloat16 size under the threshold, float32 size over");
            BandedConvolution.normSiluConv(norm, conv, x);  // the first pass of a shape times its conv backends
            long peak = AllocatorPeak.above(() -> BandedConvolution.normSiluConv(norm, conv, x));
            conv.forward(norm.forwardSilu(x));
            long wholePeak = AllocatorPeak.above(() -> conv.forward(norm.forwardSilu(x)));
            // the whole path holds a float32 copy of x (2 x its bytes) beside the output; the bands save most of it
            assertTrue(peak + bf16Bytes <= wholePeak, "banded peak " + peak + " bytes against the whole path's " + wholePeak);
            // where oneDNN computes bfloat16 convolutions they need no unfolded copy of the input (libtorch's fallback
            // does, about 9x a band), so the bound is absolute: the output plus less than that float32 copy
            if (Conv2d.oneDnnBfloat16())
                assertTrue(peak < bf16Bytes + bf16Bytes, "peak " + peak + " bytes: the output (" + bf16Bytes + ") plus less than the whole path's float32 copy of x");
        }
    }

    private static Tensor f64(Tensor t) {
        return t.to(DType.FLOAT64);
    }

    private static void assertClose(Tensor expected, Tensor actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what);
        double scale = expected.abs().max().item(), diff = expected.sub(actual).abs().max().item();
        assertTrue(diff <= 1e-5 * scale, what + ": max difference " + diff + " for values up to " + scale);
    }
}
