package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.nn.CpuFeatures;
import org.panamasd.support.NativeTest;

/**
 * The shim's flash attention (blocks of 64 queries x 256 keys, running maximum and sum, SIMD kernels chosen from
 * CPUID) against softmax(q k^T scale) v in float64 on the same values: SD's self- and cross-attention shapes, a
 * head of 256 features, query and key counts that are no multiple of a block or a tile, one key, several scales,
 * causal masking with more or fewer keys than queries; and the cases it leaves to the math path (a mask, a graph,
 * heads of more than 256 features such as the VAE's, bfloat16).
 */
class FlashAttentionTest extends NativeTest {
    private final boolean before = Torch.flashAttention();
    private final String isaBefore = Torch.flashAttentionIsa();

    @BeforeEach
    void onlyWhereTheShimChooses() {
        Assumptions.assumeFalse(Torch.hasFusedAttention(), "this libtorch has a fused attention kernel, which the shim uses instead of its own or the math path");
    }

    @AfterEach
    void restore() {
        Torch.setFlashAttention(before);
        Torch.setFlashAttentionIsa(isaBefore);
    }

    /** The CPU's kernels and the older ones it can run too (AVX2's on an AVX-512 CPU). */
    private static java.util.List<String> kernels() {
        String own = CpuFeatures.current().has("avx512f") ? "avx512" : "avx2";
        return own.equals("avx512") && CpuFeatures.current().has("avx2") && CpuFeatures.current().has("fma") ? java.util.List.of("avx512", "avx2") : java.util.List.of(own);
    }

    private static void assumeKernels() {
        Assumptions.assumeFalse(Torch.flashAttentionIsa().equals("none"), "this CPU has neither AVX-512 nor AVX2 + FMA: no flash kernel, every call takes the math path");
    }

    /** softmax(q k^T scale) v with q, k, v in float64 (the math path: the flash kernel takes float32 only). */
    private static Tensor reference(Tensor q, Tensor k, Tensor v, double scale, boolean causal) {
        return Functional.scaledDotProductAttention(q.to(DType.FLOAT64), k.to(DType.FLOAT64), v.to(DType.FLOAT64), null, 0, causal, scale);
    }

    @Test
    void theKernelIsTheOneTheCpuHas() {
        CpuFeatures cpu = CpuFeatures.current();
        String expected = cpu.has("avx512f") ? "avx512" : cpu.has("avx2") && cpu.has("fma") ? "avx2" : "none";
        assertEquals(expected, Torch.flashAttentionIsa(), "the flags of /proc/cpuinfo: " + cpu.flags());
    }

    @Test
    void matchesSoftmaxAttentionInFloat64() {
        assumeKernels();
        long[][] shapes = { // batch, heads, queries, keys, head dim, value dim
                {2, 8, 300, 77, 40, 40}, {1, 2, 1100, 1100, 64, 64}, {2, 1, 129, 513, 80, 80}, {1, 3, 5, 1, 160, 160}, {1, 2, 700, 1025, 16, 24},
                {1, 1, 300, 300, 256, 256}, {1, 1, 67, 257, 3, 5}};
        for (String isa : kernels()) {
          Torch.setFlashAttentionIsa(isa);
          try (Scope s = Scope.open(); Generator g = new Generator(3); var inference = Autograd.inferenceMode()) {
            Torch.setFlashAttention(true);
            for (long[] d : shapes) {
                Tensor q = Tensor.randn(g, d[0], d[1], d[2], d[4]).mul(2), k = Tensor.randn(g, d[0], d[1], d[3], d[4]), v = Tensor.randn(g, d[0], d[1], d[3], d[5]);
                for (double scale : new double[] {0, 0.5}) {
                    for (boolean causal : new boolean[] {false, true}) {
                        Tensor flash = Functional.scaledDotProductAttention(q, k, v, null, 0, causal, scale);
                        assertArrayEquals(new long[] {d[0], d[1], d[2], d[5]}, flash.shape());
                        assertEquals(DType.FLOAT32, flash.dtype());
                        Tensor expected = reference(q, k, v, scale, causal);
                        double error = flash.to(DType.FLOAT64).sub(expected).abs().max().item();
                        // float32's own rounding: the math path in float32 on the same inputs (its 256-feature
                        // scores, far apart, carry errors near 1e-5 that the exponentials scale up); the kernel sums
                        // each score in one running sum where BLAS blocks it, so it may be a few times that
                        Torch.setFlashAttention(false);
                        double mathError = Functional.scaledDotProductAttention(q, k, v, null, 0, causal, scale).to(DType.FLOAT64).sub(expected).abs().max().item();
                        Torch.setFlashAttention(true);
                        assertTrue(error < Math.max(2e-5, 4 * mathError), isa + " " + java.util.Arrays.toString(d) + " scale " + scale + (causal ? " causal" : "")
                                + ": max error " + error + ", the math path's in float32 " + mathError);
                    }
                }
            }
            Tensor q3 = Tensor.randn(g, 4, 600, 32), k3 = Tensor.randn(g, 4, 600, 32), v3 = Tensor.randn(g, 4, 600, 32);  // (B, L, E)
            assertTrue(Functional.scaledDotProductAttention(q3, k3, v3, null, 0, false, 0).to(DType.FLOAT64).sub(reference(q3, k3, v3, 0, false)).abs().max().item() < 2e-5);
          }
        }
    }

    @Test
    void noKernelsIsTheMathPathAndMoreThanTheCpuHasIsRefused() {
        assumeKernels();
        try (Scope s = Scope.open(); Generator g = new Generator(7); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 1, 2, 300, 40), k = Tensor.randn(g, 1, 2, 300, 40), v = Tensor.randn(g, 1, 2, 300, 40);
            Torch.setFlashAttention(false);
            Tensor math = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            Torch.setFlashAttention(true);
            Torch.setFlashAttentionIsa("none");
            assertEquals(0.0, Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0).sub(math).abs().max().item(), "no kernels: the math path");
        }
        for (String isa : kernels()) {
            // more than 256 features per head (the VAE's 512) go to the math path's BLAS, which is faster there
            try (Scope s = Scope.open(); Generator g = new Generator(8); var inference = Autograd.inferenceMode()) {
                Tensor q = Tensor.randn(g, 1, 1, 200, 512), k = Tensor.randn(g, 1, 1, 200, 512), v = Tensor.randn(g, 1, 1, 200, 512);
                Torch.setFlashAttention(false);
                Tensor math = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
                Torch.setFlashAttention(true);
                Torch.setFlashAttentionIsa(isa);
                assertEquals(0.0, Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0).sub(math).abs().max().item(), "512 features, " + isa + ": the math path");
            }
        }
        if (!CpuFeatures.current().has("avx512f")) {
            var e = assertThrows(RuntimeException.class, () -> Torch.setFlashAttentionIsa("avx512"));
            assertTrue(e.getMessage().contains("this CPU has up to"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Torch.setFlashAttentionIsa("sse"));
    }

    @Test
    void scoresFarApartKeepTheirWeights() {
        // large logits: exp of scores hundreds apart underflows to exactly 0 for all but the largest, as softmax does
        assumeKernels();
        try (Scope s = Scope.open(); Generator g = new Generator(5); var inference = Autograd.inferenceMode()) {
            Torch.setFlashAttention(true);
            Tensor q = Tensor.randn(g, 2, 2, 130, 40).mul(30), k = Tensor.randn(g, 2, 2, 600, 40).mul(3), v = Tensor.randn(g, 2, 2, 600, 40);
            double error = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0).to(DType.FLOAT64).sub(reference(q, k, v, 0, false)).abs().max().item();
            assertTrue(error < 1e-4, "max error " + error);
        }
    }

    @Test
    void bfloat16InputsTakeTheMathPath() {
        // oneDNN's bfloat16 GEMMs on the math path measured about twice as fast as the kernels, which would compute
        // bfloat16 in float32 (bench-attention --dtype bfloat16 on a Zen 5 with avx512_bf16)
        assumeKernels();
        try (Scope s = Scope.open(); Generator g = new Generator(6); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 2, 8, 300, 40).to(DType.BFLOAT16), k = Tensor.randn(g, 2, 8, 333, 40).to(DType.BFLOAT16),
                    v = Tensor.randn(g, 2, 8, 333, 40).to(DType.BFLOAT16);
            Torch.setFlashAttention(false);
            Tensor math = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            Torch.setFlashAttention(true);
            Tensor flash = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            assertEquals(DType.BFLOAT16, flash.dtype());
            assertEquals(0.0, flash.sub(math).to(DType.FLOAT32).abs().max().item(), "bfloat16: the math path either way");
        }
    }

    @Test
    void theSwitchChoosesThePathAndMasksAndGraphsTakeTheMathOne() {
        assumeKernels();
        try (Scope s = Scope.open(); Generator g = new Generator(4)) {
            Tensor q = Tensor.randn(g, 1, 2, 600, 40), k = Tensor.randn(g, 1, 2, 600, 40), v = Tensor.randn(g, 1, 2, 600, 40);
            try (var inference = Autograd.inferenceMode()) {
                Torch.setFlashAttention(true);
                Tensor flash = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
                Torch.setFlashAttention(false);
                assertFalse(Torch.flashAttention());
                Tensor math = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
                double difference = flash.sub(math).abs().max().item();
                assertTrue(difference > 0 && difference < 2e-5, "two summation orders, the same values: " + difference);
                Tensor mask = Tensor.randn(g, 600, 600);
                Torch.setFlashAttention(true);
                Tensor masked = Functional.scaledDotProductAttention(q, k, v, mask, 0, false, 0);
                Torch.setFlashAttention(false);
                assertEquals(0.0, masked.sub(Functional.scaledDotProductAttention(q, k, v, mask, 0, false, 0)).abs().max().item(), "a mask: the math path either way");
            }
            // a graph to record: the math path, whose backward libtorch has
            Torch.setFlashAttention(true);
            Tensor leaf = q.detach().requiresGrad(true);
            Functional.scaledDotProductAttention(leaf, k, v, null, 0, false, 0).sum().backward();
            assertNotNull(leaf.grad(), "the gradient reaches q");
            assertTrue(leaf.grad().abs().sum().item() > 0);
        }
    }
}
