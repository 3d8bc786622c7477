package org.panamasd.benchmark;

import java.util.ArrayList;
import java.util.List;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;

/**
 * The attention kernel alone at SD's shapes: the shim's flash kernel against the math path (query chunks over
 * bmm + softmax), in float32 or bfloat16 (the AVX512_BF16 kernels where the CPU has them, else the math path both
 * times), inference mode, the two in alternating order each round on the same inputs.
 */
public final class AttentionBenchmark {
    /** batch x heads, queries, keys, head dim, and where SD meets it. */
    public record Shape(long heads, long queries, long keys, long headDim, String where) {}

    public record Row(Shape shape, double flashSeconds, double mathSeconds) {
        public double speedup() {
            return mathSeconds / flashSeconds;
        }
    }

    /** SD 1.5 at 64x64 latents (512 px) and SDXL at 128x128 (1024 px), batch 2 (guidance). */
    public static final List<Shape> SD_SHAPES = List.of(
            new Shape(16, 4096, 4096, 40, "SD 1.5 down/up block 0 self-attention, 64x64 tokens, 8 heads of 40"),
            new Shape(16, 4096, 77, 40, "SD 1.5 block 0 cross-attention, 77 text tokens"),
            new Shape(16, 1024, 1024, 80, "SD 1.5 block 1 self-attention, 32x32 tokens, 8 heads of 80"),
            new Shape(16, 256, 256, 160, "SD 1.5 block 2 self-attention, 16x16 tokens, 8 heads of 160"),
            new Shape(20, 4096, 4096, 64, "SDXL block 1 self-attention at 1024 px, 64x64 tokens, 10 heads of 64"),
            new Shape(40, 1024, 1024, 64, "SDXL block 2 self-attention at 1024 px, 32x32 tokens, 20 heads of 64"),
            new Shape(1, 4096, 4096, 512, "SD VAE mid-block attention at 512 px, 64x64 tokens, 1 head of 512"));

    private AttentionBenchmark() {}

    /** The best of {@code rounds} calls of each path per shape, in float32. */
    public static List<Row> run(List<Shape> shapes, int rounds) {
        return run(shapes, rounds, DType.FLOAT32);
    }

    /** The best of {@code rounds} calls of each path per shape, inputs in {@code dtype}. */
    public static List<Row> run(List<Shape> shapes, int rounds, DType dtype) {
        if (rounds < 1) throw new IllegalArgumentException("rounds must be at least 1");
        String before = Torch.attentionChoice();
        List<Row> rows = new ArrayList<>();
        try (Generator g = new Generator(0); var inference = Autograd.inferenceMode()) {
            for (Shape s : shapes) {
                try (Scope scope = Scope.open()) {
                    Tensor q = Tensor.randn(g, s.heads(), s.queries(), s.headDim()).to(dtype), k = Tensor.randn(g, s.heads(), s.keys(), s.headDim()).to(dtype),
                            v = Tensor.randn(g, s.heads(), s.keys(), s.headDim()).to(dtype);
                    double flash = Double.MAX_VALUE, math = Double.MAX_VALUE;
                    time(q, k, v, true);  // warm-up of each
                    time(q, k, v, false);
                    for (int r = 0; r < rounds; r++) {
                        boolean flashFirst = r % 2 == 0;
                        double first = time(q, k, v, flashFirst), second = time(q, k, v, !flashFirst);
                        flash = Math.min(flash, flashFirst ? first : second);
                        math = Math.min(math, flashFirst ? second : first);
                    }
                    rows.add(new Row(s, flash, math));
                }
            }
        } finally {
            Torch.setAttentionChoice(before);
        }
        return rows;
    }

    private static double time(Tensor q, Tensor k, Tensor v, boolean flash) {
        Torch.setFlashAttention(flash);
        long start = System.nanoTime();
        try (Scope scope = Scope.open()) {
            Functional.scaledDotProductAttention(q, k, v, null, 0, false, 0);
        }
        return (System.nanoTime() - start) / 1e9;
    }
}
