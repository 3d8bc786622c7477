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
    private final String before = Torch.attentionChoice();
    private final String isaBefore = Torch.flashAttentionIsa();

    @BeforeEach
    void onlyWhereTheShimChooses() {
        Assumptions.assumeFalse(Torch.hasFusedAttention(), "this libtorch has a fused attention kernel, which the shim uses instead of its own or the math path");
    }

    @AfterEach
    void restore() {
        Torch.setAttentionChoice(before);
        Torch.setFlashAttentionIsa(isaBefore);
    }

    /** The CPU's kernels and the older ones it can run too (AVX2's on an AVX-512 CPU). */
    private static java.util.List<String> kernels() {
        String own = CpuFeatures.current().hasAvx512Kernels() ? "avx512" : "avx2";
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
        String expected = cpu.hasAvx512Kernels() ? "avx512" : cpu.has("avx2") && cpu.has("fma") ? "avx2" : "none";
        String cap = System.getenv("ATEN_CPU_CAPABILITY");  // hasAvx512Kernels follows an avx2 cap; default: no kernels
        if ("default".equals(cap)) expected = "none";
        assertEquals(expected, Torch.flashAttentionIsa(), "the flags of /proc/cpuinfo: " + cpu.flags() + ", ATEN_CPU_CAPABILITY " + cap);
    }

    /** What the child JVM of the test below prints: the kernels chosen at load. */
    public static void main(String[] args) {
        System.out.println("flash kernels: " + Torch.flashAttentionIsa());
    }

    @Test
    void libtorchsCapabilityVariableCapsTheKernelsAsItCapsLibtorchs() throws Exception {
        // the children set their own ATEN_CPU_CAPABILITY: what counts is the CPU, not this process's cap
        Assumptions.assumeTrue(CpuFeatures.current().hasAvx512() && CpuFeatures.current().has("avx2") && CpuFeatures.current().has("fma"),
                "capping needs an AVX-512 CPU (it has both kernels); this one has " + CpuFeatures.current().flags());
        assertEquals("flash kernels: avx2", childPrints("avx2"), "ATEN_CPU_CAPABILITY=avx2: an AVX-512 machine runs as an AVX2-only one");
        assertEquals("flash kernels: none", childPrints("default"), "ATEN_CPU_CAPABILITY=default: no vector kernels");
        assertEquals("flash kernels: avx512", childPrints("avx512"));
    }

    private static String childPrints(String capability) throws Exception {
        String launcher = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(launcher, "--enable-native-access=ALL-UNNAMED", "-Dpanamasd.library=" + System.getProperty("panamasd.library"),
                "-cp", System.getProperty("java.class.path"), FlashAttentionTest.class.getName()).redirectErrorStream(true);
        builder.environment().put("ATEN_CPU_CAPABILITY", capability);
        Process child = builder.start();
        String output = new String(child.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, child.waitFor(), output);
        return output.lines().filter(l -> l.startsWith("flash kernels: ")).findFirst().orElse(output);
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
    void theTimedChoiceTimesEachShapeOnceAndThenTakesThePathItChose() {
        assumeKernels();
        Torch.setAttentionChoice("timed");
        assertEquals("timed", Torch.attentionChoice());
        assertTrue(Torch.flashAttention(), "under the timed choice the kernels may run");
        // nothing on record: the suite's cache file, written by an earlier run, may hold this test's shapes
        Torch.clearAttentionChoices();
        try (Scope s = Scope.open(); Generator g = new Generator(11); var inference = Autograd.inferenceMode()) {
            // shapes no other test uses (each process times a shape once)
            Tensor q = Tensor.randn(g, 1, 3, 333, 24), k = Tensor.randn(g, 1, 3, 271, 24), v = Tensor.randn(g, 1, 3, 271, 24);
            Torch.AttentionTimings before = Torch.attentionTimings();
            Tensor timed = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            Torch.AttentionTimings after = Torch.attentionTimings();
            assertEquals(before.shapes() + 1, after.shapes(), "a new shape is timed");
            Tensor again = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            assertEquals(after, Torch.attentionTimings(), "a known shape is not timed again");
            Tensor expected = reference(q, k, v, 0, false);
            for (Tensor t : new Tensor[] {timed, again}) assertTrue(t.to(DType.FLOAT64).sub(expected).abs().max().item() < 2e-5);
            // the timed call and the known shape's calls take exactly the chosen path: one process, one result
            Torch.setAttentionChoice(after.flash() > before.flash() ? "flash" : "math");
            Tensor chosen = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            String path = "the path the timing chose (" + (after.flash() > before.flash() ? "flash" : "math") + ")";
            assertEquals(0.0, again.sub(chosen).abs().max().item(), path);
            assertEquals(0.0, timed.sub(chosen).abs().max().item(), "the timing call's result is " + path + "'s too");
            // causal is another shape; the fixed choices time nothing
            Torch.setAttentionChoice("timed");
            Functional.scaledDotProductAttention(q, k, v, null, 0, true, 0);
            assertEquals(after.shapes() + 1, Torch.attentionTimings().shapes());
            for (String fixed : new String[] {"flash", "math"}) {
                Torch.setAttentionChoice(fixed);
                Functional.scaledDotProductAttention(q.narrow(2, 0, 100), k, v, null, 0, false, 0);
                assertEquals(after.shapes() + 1, Torch.attentionTimings().shapes(), fixed + " times nothing");
            }
        }
        var e = assertThrows(IllegalArgumentException.class, () -> Torch.setAttentionChoice("fastest"));
        assertTrue(e.getMessage().contains("timed, flash or math") && e.getMessage().contains("fastest"), e.getMessage());
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
        if (!CpuFeatures.current().hasAvx512Kernels()) {
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

    /** Whether bfloat16 inputs take the AVX512_BF16 kernels: the CPU has them and the AVX-512 kernels are in use. */
    private static boolean bfloat16Kernels() {
        return CpuFeatures.current().has("avx512_bf16") && Torch.flashAttentionIsa().equals("avx512");
    }

    @Test
    void bfloat16TakesTheBfloat16KernelsWithinTheMathPathsOwnRounding() {
        assumeKernels();
        Assumptions.assumeTrue(bfloat16Kernels(), "the bfloat16 kernels need AVX512_BF16 and the AVX-512 kernels; this CPU: " + CpuFeatures.current().flags()
                + ", kernels " + Torch.flashAttentionIsa());
        long[][] shapes = { // batch, heads, queries, keys, head dim, value dim: SD's head dims, odd sizes, an odd head dim
                {2, 8, 300, 77, 40, 40}, {1, 2, 1100, 1100, 64, 64}, {2, 1, 129, 513, 80, 80}, {1, 2, 257, 300, 160, 160}, {1, 3, 5, 1, 8, 8},
                {1, 1, 67, 257, 3, 5}, {1, 2, 700, 1025, 16, 24}};
        try (Scope s = Scope.open(); Generator g = new Generator(6); var inference = Autograd.inferenceMode()) {
            for (long[] d : shapes) {
                Tensor q = Tensor.randn(g, d[0], d[1], d[2], d[4]).mul(2).to(DType.BFLOAT16), k = Tensor.randn(g, d[0], d[1], d[3], d[4]).to(DType.BFLOAT16),
                        v = Tensor.randn(g, d[0], d[1], d[3], d[5]).to(DType.BFLOAT16);
                for (boolean causal : new boolean[] {false, true}) {
                    Tensor expected = reference(q, k, v, 0, causal);  // float64 on the same bfloat16 values
                    Torch.setFlashAttention(false);
                    Tensor math = Functional.scaledDotProductAttention(q, k, v, null, 0, causal, 0);
                    Torch.setFlashAttention(true);
                    Tensor flash = Functional.scaledDotProductAttention(q, k, v, null, 0, causal, 0);
                    assertEquals(DType.BFLOAT16, flash.dtype());
                    assertArrayEquals(new long[] {d[0], d[1], d[2], d[5]}, flash.shape());
                    double error = flash.to(DType.FLOAT64).sub(expected).abs().max().item();
                    double mathError = math.to(DType.FLOAT64).sub(expected).abs().max().item();
                    String what = java.util.Arrays.toString(d) + (causal ? " causal" : "") + ": max error " + error + ", the math path's in bfloat16 " + mathError;
                    // one key: both give v itself
                    if (d[3] > 1) assertTrue(flash.sub(math).to(DType.FLOAT32).abs().max().item() > 0, "the kernel, not the math path: " + what);
                    // the math path rounds q scale, the scores and the weights to bfloat16; the kernel rounds q scale
                    // log2(e) and the weights, and keeps the scores in float32
                    assertTrue(error <= Math.max(2 * mathError, 1.0 / 64), what);
                }
            }
        }
    }

    @Test
    void aNanKeyIsNanInEveryOutputOnEveryPath() {
        // softmax over a row with one NaN score is NaN: a kernel must not hide the upstream fault the math path shows
        // (the bfloat16 exponential first clamped a NaN to -150, a weight of 0, once the row maximum had dropped it)
        assumeKernels();
        try (Scope s = Scope.open(); Generator g = new Generator(12); var inference = Autograd.inferenceMode()) {
            for (DType dtype : bfloat16Kernels() ? new DType[] {DType.FLOAT32, DType.BFLOAT16} : new DType[] {DType.FLOAT32}) {
                Tensor q = Tensor.randn(g, 1, 2, 70, 40), k = Tensor.randn(g, 1, 2, 90, 40), v = Tensor.randn(g, 1, 2, 90, 40);
                k.narrow(2, 0, 1).narrow(3, 3, 1).fill(Double.NaN);  // one feature of key 0 of both heads
                q = q.to(dtype);
                k = k.to(dtype);
                v = v.to(dtype);
                for (String path : new String[] {"flash", "math"}) {
                    Torch.setAttentionChoice(path);
                    Tensor out = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0).to(DType.FLOAT32);
                    long finite = 0;
                    for (float value : out.toFloatArray()) if (!Float.isNaN(value)) finite++;
                    assertEquals(0, finite, dtype + " " + path + ": every output NaN");
                }
            }
        }
    }

    @Test
    void bfloat16TakesTheMathPathWithTheAvx2Kernels() {
        // the AVX2 kernels would compute bfloat16 in float32, at 0.39-0.54x the speed of oneDNN's bfloat16 GEMMs
        assumeKernels();
        Torch.setFlashAttentionIsa("avx2");
        try (Scope s = Scope.open(); Generator g = new Generator(6); var inference = Autograd.inferenceMode()) {
            Tensor q = Tensor.randn(g, 2, 8, 300, 40).to(DType.BFLOAT16), k = Tensor.randn(g, 2, 8, 333, 40).to(DType.BFLOAT16),
                    v = Tensor.randn(g, 2, 8, 333, 40).to(DType.BFLOAT16);
            Torch.setFlashAttention(false);
            Tensor math = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            Torch.setFlashAttention(true);
            Tensor flash = Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
            assertEquals(DType.BFLOAT16, flash.dtype());
            assertEquals(0.0, flash.sub(math).to(DType.FLOAT32).abs().max().item(), "bfloat16 with the AVX2 kernels: the math path");
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
