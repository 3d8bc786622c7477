package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.support.NativeTest;

/**
 * The shim's blocked attention (blocks of 128 queries x 512 keys, running maximum and sum) against the math path
 * in float64 on the same values: SD's self- and cross-attention shapes, query and key counts that are no multiple
 * of a block, a key count above one block, one key, several scales; and the cases it leaves to the math path.
 */
class BlockedAttentionTest extends NativeTest {
    private final boolean before = Torch.blockedAttention();

    @org.junit.jupiter.api.BeforeEach
    void onlyWhereTheShimChooses() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Torch.hasFusedAttention(),
                "this libtorch has a fused attention kernel, which the shim uses instead of its blocked or math path");
    }

    @AfterEach
    void restore() {
        Torch.setBlockedAttention(before);
    }

    /** softmax(q k^T scale) v with q, k, v in float64 (the math path: the blocked kernel takes float32 only), as float32. */
    private static Tensor reference(Tensor q, Tensor k, Tensor v, double scale) {
        return Functional.scaledDotProductAttention(q.to(DType.FLOAT64), k.to(DType.FLOAT64), v.to(DType.FLOAT64), null, 0, false, scale).to(DType.FLOAT32);
    }

    @Test
    void matchesTheMathPathInFloat64() {
        long[][] shapes = { // batch, heads, queries, keys, head dim, value dim
                {2, 8, 300, 77, 40, 40}, {1, 2, 1100, 1100, 64, 64}, {2, 1, 129, 513, 80, 80}, {1, 3, 5, 1, 160, 160}, {1, 2, 700, 1025, 16, 24}};
        try (Scope s = Scope.open(); Generator g = new Generator(3); var inference = Autograd.inferenceMode()) {
            Torch.setBlockedAttention(true);
            for (long[] d : shapes) {
                Tensor q = Tensor.randn(g, d[0], d[1], d[2], d[4]).mul(2), k = Tensor.randn(g, d[0], d[1], d[3], d[4]), v = Tensor.randn(g, d[0], d[1], d[3], d[5]);
                for (double scale : new double[] {0, 0.5}) {
                    Tensor blocked = Functional.scaledDotProductAttention(q, k, v, null, 0, false, scale);
                    assertArrayEquals(new long[] {d[0], d[1], d[2], d[5]}, blocked.shape());
                    Tensor expected = reference(q, k, v, scale);
                    double error = blocked.sub(expected).abs().max().item();
                    assertTrue(error < 2e-5, java.util.Arrays.toString(d) + " scale " + scale + ": max error " + error);
                }
            }
            Tensor q3 = Tensor.randn(g, 4, 600, 32), k3 = Tensor.randn(g, 4, 600, 32), v3 = Tensor.randn(g, 4, 600, 32);  // (B, L, E)
            assertTrue(Functional.scaledDotProductAttention(q3, k3, v3, null, 0, false, 0).sub(reference(q3, k3, v3, 0)).abs().max().item() < 2e-5);
        }
    }

    @Test
    void theSwitchChoosesThePathAndMasksTakeTheMathOne() {
        try (Scope s = Scope.open(); Generator g = new Generator(4); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 1, 2, 600, 40), k = Tensor.randn(g, 1, 2, 600, 40), v = Tensor.randn(g, 1, 2, 600, 40);
            Torch.setBlockedAttention(true);
            Tensor blocked = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            Torch.setBlockedAttention(false);
            assertFalse(Torch.blockedAttention());
            Tensor math = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            double difference = blocked.sub(math).abs().max().item();
            assertTrue(difference > 0 && difference < 2e-5, "two summation orders, the same values: " + difference);
            Torch.setBlockedAttention(true);
            Tensor causal = Functional.scaledDotProductAttention(q, k, v, null, 0, true, 0);
            Torch.setBlockedAttention(false);
            assertEquals(0.0, causal.sub(Functional.scaledDotProductAttention(q, k, v, null, 0, true, 0)).abs().max().item(), "causal: the math path either way");
        }
    }
}
