package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Functional.Interpolation;
import org.panamasd.Functional.PadMode;
import org.panamasd.Functional.Reduction;
import org.panamasd.Generator;
import org.panamasd.MemoryFormat;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** The native ops against slow, obviously-right Java loops. */
class OpsTest extends NativeTest {

    private static double[] sequence(int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = Math.sin(i * 1.7 + 0.3) * scale;
        return v;
    }

    @Test
    void conv2dMatchesADirectLoop() {
        int c = 2, h = 5, w = 5, o = 3;
        double[] x = sequence(c * h * w, 1), k = sequence(o * c * 9, 0.5), b = {0.1, -0.2, 0.3};
        double[] expected = new double[o * h * w];
        for (int oc = 0; oc < o; oc++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    double sum = b[oc];
                    for (int ic = 0; ic < c; ic++)
                        for (int di = 0; di < 3; di++)
                            for (int dj = 0; dj < 3; dj++) {
                                int y = i + di - 1, z = j + dj - 1;
                                if (y >= 0 && y < h && z >= 0 && z < w) sum += x[(ic * h + y) * w + z] * k[((oc * c + ic) * 3 + di) * 3 + dj];
                            }
                    expected[(oc * h + i) * w + j] = sum;
                }
        try (Scope scope = Scope.open()) {
            Tensor input = Tensor.of(x, 1, c, h, w), weight = Tensor.of(k, o, c, 3, 3), bias = Tensor.of(b, o);
            assertClose(expected, Functional.conv2d(input, weight, bias, 1, 1).toDoubleArray(), 1e-12, 0);
            // the same conv in channels_last layout
            Tensor nhwc = input.to(DType.FLOAT32).contiguous(MemoryFormat.CHANNELS_LAST);
            assertTrue(nhwc.isContiguous(MemoryFormat.CHANNELS_LAST));
            assertClose(expected, Functional.conv2d(nhwc, weight.to(DType.FLOAT32), bias.to(DType.FLOAT32), 1, 1).toDoubleArray(), 1e-5, 1e-5);
        }
    }

    @Test
    void normalisationsMatchTheirDefinitions() {
        double[] x = sequence(2 * 4 * 3, 2);
        try (Scope scope = Scope.open()) {
            Tensor input = Tensor.of(x, 2, 4, 3);
            // group norm, 2 groups of 2 channels x 3 positions
            double[] expected = new double[x.length];
            for (int n = 0; n < 2; n++)
                for (int g = 0; g < 2; g++) {
                    int start = n * 12 + g * 6;
                    double mean = 0, var = 0;
                    for (int i = 0; i < 6; i++) mean += x[start + i] / 6;
                    for (int i = 0; i < 6; i++) var += Math.pow(x[start + i] - mean, 2) / 6;
                    for (int i = 0; i < 6; i++) expected[start + i] = (x[start + i] - mean) / Math.sqrt(var + 1e-5);
                }
            assertClose(expected, Functional.groupNorm(input, 2, null, null, 1e-5).toDoubleArray(), 1e-12, 0);
            // layer norm over the last dim with weight and bias
            double[] weight = {1.5, -1, 0.5}, bias = {0.1, 0.2, 0.3};
            double[] ln = new double[x.length];
            for (int row = 0; row < 8; row++) {
                double mean = 0, var = 0;
                for (int i = 0; i < 3; i++) mean += x[row * 3 + i] / 3;
                for (int i = 0; i < 3; i++) var += Math.pow(x[row * 3 + i] - mean, 2) / 3;
                for (int i = 0; i < 3; i++) ln[row * 3 + i] = (x[row * 3 + i] - mean) / Math.sqrt(var + 1e-6) * weight[i] + bias[i];
            }
            assertClose(ln, Functional.layerNorm(input, new long[] {3}, Tensor.of(weight, 3), Tensor.of(bias, 3), 1e-6).toDoubleArray(), 1e-12, 0);
            // softmax over the last dim
            double[] sm = new double[x.length];
            for (int row = 0; row < 8; row++) {
                double total = 0;
                for (int i = 0; i < 3; i++) total += Math.exp(x[row * 3 + i]);
                for (int i = 0; i < 3; i++) sm[row * 3 + i] = Math.exp(x[row * 3 + i]) / total;
            }
            assertClose(sm, input.softmax(-1).toDoubleArray(), 1e-12, 0);
            assertClose(java.util.Arrays.stream(sm).map(Math::log).toArray(), input.logSoftmax(-1).toDoubleArray(), 1e-12, 0);
        }
    }

    @Test
    void attentionMatchesSoftmaxQkTv() {
        int L = 4, E = 3;
        double[] q = sequence(L * E, 1), k = sequence(L * E + 5, 1), v = sequence(L * E + 9, 1);
        double[] kk = java.util.Arrays.copyOfRange(k, 5, 5 + L * E), vv = java.util.Arrays.copyOfRange(v, 9, 9 + L * E);
        double[] expected = new double[L * E];
        double scale = 1 / Math.sqrt(E);
        for (int i = 0; i < L; i++) {
            double[] p = new double[L];
            double total = 0;
            for (int j = 0; j <= i; j++) {  // causal
                double s = 0;
                for (int e = 0; e < E; e++) s += q[i * E + e] * kk[j * E + e];
                p[j] = Math.exp(s * scale);
                total += p[j];
            }
            for (int j = 0; j <= i; j++) for (int e = 0; e < E; e++) expected[i * E + e] += p[j] / total * vv[j * E + e];
        }
        try (Scope scope = Scope.open()) {
            Tensor out = Functional.scaledDotProductAttention(Tensor.of(q, 1, L, E), Tensor.of(kk, 1, L, E), Tensor.of(vv, 1, L, E), null, 0, true, 0);
            assertClose(expected, out.toDoubleArray(), 1e-12, 0);
        }
    }

    @Test
    void attentionOverALargeScoreMatrixGoesByQueryChunksWithTheSameResult() {
        // 2 x 1100 x 8000 float scores are 70 MB, above the shim's 64 MiB per chunk: several chunks of queries
        try (Scope scope = Scope.open(); Generator g = new Generator(9)) {
            long L = 1100, S = 8000, E = 8;
            Tensor q = Tensor.randn(g, 2, 1, L, E), k = Tensor.randn(g, 2, 1, S, E), v = Tensor.randn(g, 2, 1, S, E);
            Tensor bias = Tensor.randn(g, 1, 1, L, S).mul(0.1f);
            double scale = 0.3;
            // the whole score matrix at once, from separate ops
            Tensor expected = q.matmul(k.transpose(-2, -1)).mul(scale).add(bias).softmax(-1).matmul(v);
            Tensor got = Functional.scaledDotProductAttention(q, k, v, bias, 0, false, scale);
            assertClose(expected.toDoubleArray(), got.toDoubleArray(), 1e-5, 1e-4);
            // causal with a mask: row i sees keys 0..i only (and the bias), in every chunk
            Tensor qs = q.narrow(2, 0, 1100), ks = k.narrow(2, 0, 1100), vs = v.narrow(2, 0, 1100);
            Tensor causalBias = bias.narrow(3, 0, 1100);
            Tensor index = Tensor.arange(0, 1100, 1, DType.FLOAT32);
            Tensor keep = index.reshape(1100, 1).ge(index.reshape(1, 1100));  // key j <= query i
            Tensor masked = qs.matmul(ks.transpose(-2, -1)).mul(scale).add(causalBias);
            Tensor expectedCausal = Tensor.where(keep, masked, Tensor.full(Double.NEGATIVE_INFINITY, 1)).softmax(-1).matmul(vs);
            Tensor bigKeys = Tensor.randn(g, 2, 16, 1100, E);  // 16 heads: 2 x 16 x 1100 x 1100 scores = 155 MB
            assertClose(expectedCausal.toDoubleArray(),
                    Functional.scaledDotProductAttention(qs, ks, vs, causalBias, 0, true, scale).toDoubleArray(), 1e-5, 1e-4);
            long base = MemoryStats.now().allocatedBytes();
            MemoryStats.resetPeak();
            Tensor chunkedCausal = Functional.scaledDotProductAttention(bigKeys, bigKeys, bigKeys, null, 0, true, 0);
            long scoreBytes = 2L * 16 * 1100 * 1100 * 4;
            long peak = MemoryStats.now().peakBytes() - base;
            assertTrue(peak < scoreBytes, "attention's peak " + peak + " bytes reached the whole score matrix's " + scoreBytes);
            Tensor wholeCausal = Tensor.where(keep, bigKeys.matmul(bigKeys.transpose(-2, -1)).div(Math.sqrt(E)), Tensor.full(Double.NEGATIVE_INFINITY, 1))
                    .softmax(-1).matmul(bigKeys);
            assertClose(wholeCausal.toDoubleArray(), chunkedCausal.toDoubleArray(), 1e-5, 1e-4);
        }
    }

    @Test
    void baddbmmWithBetaZeroNeverReadsItsInput() {
        try (Scope scope = Scope.open(); Generator g = new Generator(3)) {
            Tensor a = Tensor.randn(g, 8, 4, 4), b = Tensor.randn(g, 8, 4, 4);
            Tensor nan = Tensor.full(Double.NaN, 8, 4, 4);
            Tensor out = nan.baddbmm(a, b, 0, 0.5);
            assertClose(a.bmm(b).mul(0.5).toDoubleArray(), out.toDoubleArray(), 1e-6, 0);
            Tensor ones = Tensor.ones(8, 4, 4);
            assertClose(a.bmm(b).mul(2).add(0.5).toDoubleArray(), ones.baddbmm(a, b, 0.5, 2).toDoubleArray(), 1e-5, 0);
        }
    }

    @Test
    void resizingAndPadding() {
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 1, 1, 2, 2);
            assertClose(new double[] {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4},
                    Functional.interpolate(x, 4, 4, Interpolation.NEAREST, null).toDoubleArray(), 0, 0);
            assertClose(new double[] {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4},
                    Functional.interpolate(x, 2.0, 2.0, Interpolation.NEAREST, null).toDoubleArray(), 0, 0);
            // bilinear with align_corners keeps the corners and interpolates linearly between them
            double[] bl = Functional.interpolate(x, 3, 3, Interpolation.BILINEAR, true).toDoubleArray();
            assertClose(new double[] {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, bl, 1e-12, 0);
            assertArrayEquals(new long[] {1, 1, 5, 5}, Functional.interpolate(x, 5, 5, Interpolation.BICUBIC, false).shape());
            Tensor row = Tensor.of(new double[] {1, 2, 3}, 1, 1, 3);
            assertClose(new double[] {3, 2, 1, 2, 3, 2}, Functional.pad(row, new long[] {2, 1}, PadMode.REFLECT, 0).toDoubleArray(), 0, 0);
            assertClose(new double[] {1, 1, 1, 2, 3, 3}, Functional.pad(row, new long[] {2, 1}, PadMode.REPLICATE, 0).toDoubleArray(), 0, 0);
            assertClose(new double[] {9, 1, 2, 3, 9}, Functional.pad(row, new long[] {1, 1}, PadMode.CONSTANT, 9).toDoubleArray(), 0, 0);
            assertClose(new double[] {2.5}, Functional.avgPool2d(x, 2, 2).toDoubleArray(), 0, 0);
            assertClose(new double[] {4}, Functional.maxPool2d(x, 2, 2, 0).toDoubleArray(), 0, 0);
        }
    }

    @Test
    void shapeAndIndexing() {
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.arange(0, 12, 1, DType.FLOAT32).reshape(3, 4);
            assertArrayEquals(new long[] {4, 3}, x.transpose(0, 1).shape());
            assertArrayEquals(new long[] {4, 3}, x.permute(1, 0).contiguous().shape());
            assertArrayEquals(new long[] {2, 3, 4}, x.unsqueeze(0).expand(2, 3, 4).shape());
            assertArrayEquals(new long[] {6, 4}, x.repeat(2, 1).shape());
            Tensor[] chunks = x.chunk(2, 1);
            assertEquals(2, chunks.length);
            assertArrayEquals(new float[] {2, 3, 6, 7, 10, 11}, chunks[1].contiguous().toFloatArray());
            Tensor[] splits = x.split(2, 0);
            assertEquals(2, splits.length);
            assertArrayEquals(new long[] {1, 4}, splits[1].shape());
            assertArrayEquals(x.toFloatArray(), Tensor.cat(0, splits).toFloatArray());
            assertArrayEquals(new long[] {2, 3, 4}, Tensor.stack(0, x, x).shape());
            assertArrayEquals(new float[] {8, 9, 10, 11}, x.indexSelect(0, Tensor.of(new long[] {2}, 1)).toFloatArray());
            assertArrayEquals(new float[] {1, 4, 11}, x.gather(1, Tensor.of(new long[] {1, 0, 3}, 3, 1)).toFloatArray());
            assertArrayEquals(new float[] {1, 3, 5, 7, 9, 11}, x.slice(1, 1, 4, 2).contiguous().toFloatArray());
            assertArrayEquals(new float[] {2, 3}, x.narrow(1, 2, 2).get(0).contiguous().toFloatArray());
            assertArrayEquals(new long[] {12}, x.flatten(0, 1).shape());
            assertArrayEquals(new long[] {3, 4}, x.view(1, 12).squeeze(0).view(3, 4).shape());
            Tensor weight = Tensor.of(new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
            assertArrayEquals(new float[] {20, 21, 0, 1}, Functional.embedding(weight, Tensor.of(new long[] {2, 0}, 2)).toFloatArray());
        }
    }

    @Test
    void reductionsAndLosses() {
        double[] v = {1, 5, -2, 4, 0, 3};
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.of(v, 2, 3);
            assertClose(new double[] {4, 7}, x.sum(new long[] {1}, false).toDoubleArray(), 0, 0);
            assertArrayEquals(new long[] {2, 1}, x.mean(new long[] {1}, true).shape());
            assertClose(new double[] {13.0 / 3.0}, x.var(new long[] {1}, 1, false).slice(0, 1, 2, 1).toDoubleArray(), 1e-12, 0);
            assertClose(Math.sqrt(111.0 / 9), x.std(new long[] {1}, 1, false).get(0).item(), 1e-12);
            assertClose(new double[] {5, 4}, x.max(1, false).toDoubleArray(), 0, 0);
            assertClose(new double[] {-2, 0}, x.min(1, false).toDoubleArray(), 0, 0);
            assertArrayEquals(new long[] {1, 0}, x.argmax(1, false).toLongArray());
            assertEquals(5.0, x.max().item());
            Tensor t = Tensor.zeros(DType.FLOAT64, 2, 3);
            assertClose(55.0 / 6, Functional.mseLoss(x, t, Reduction.MEAN).item(), 1e-12);
            assertClose(15.0, Functional.l1Loss(x, t, Reduction.SUM).item(), 1e-12);
            assertArrayEquals(new long[] {2, 3}, Functional.mseLoss(x, t, Reduction.NONE).shape());
        }
    }

    @Test
    void activationsAndElementwise() {
        double[] v = {-2, -0.5, 0, 0.7, 3};
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.of(v, 5);
            double[] silu = new double[5], gelu = new double[5], gtanh = new double[5], leaky = new double[5];
            for (int i = 0; i < 5; i++) {
                silu[i] = v[i] / (1 + Math.exp(-v[i]));
                gelu[i] = 0.5 * v[i] * (1 + erf(v[i] / Math.sqrt(2)));
                gtanh[i] = 0.5 * v[i] * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v[i] + 0.044715 * Math.pow(v[i], 3))));
                leaky[i] = v[i] < 0 ? 0.1 * v[i] : v[i];
            }
            assertClose(silu, x.silu().toDoubleArray(), 1e-12, 0);
            assertClose(gelu, x.gelu().toDoubleArray(), 1e-7, 0);
            assertClose(gtanh, x.gelu(true).toDoubleArray(), 1e-12, 0);
            assertClose(leaky, x.leakyRelu(0.1).toDoubleArray(), 1e-12, 0);
            assertClose(new double[] {0, 0, 0, 0.7, 3}, x.relu().toDoubleArray(), 0, 0);
            assertClose(new double[] {-1, -0.5, 0, 0.7, 1}, x.clamp(-1, 1).toDoubleArray(), 0, 0);
            assertClose(new double[] {0, 0, 0, 0.7, 3}, Tensor.where(x.gt(0), x, Tensor.zeros(DType.FLOAT64, 5)).toDoubleArray(), 0, 0);
            assertClose(new double[] {4, 0.25, 0, 0.49, 9}, x.pow(2).toDoubleArray(), 1e-12, 0);
            assertClose(new double[] {3, 1.5, 1, 0.3, -2}, x.rsub(1).toDoubleArray(), 1e-12, 0);
            assertArrayEquals(new float[] {0, 0, 1, 1, 1}, x.ge(0).to(DType.FLOAT32).toFloatArray());
        }
    }

    @Test
    void conversionsBetweenDtypes() {
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1.5f, -2.25f, 3}, 3);
            for (DType d : new DType[] {DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64}) {
                Tensor y = x.to(d);
                assertEquals(d, y.dtype());
                assertArrayEquals(x.toFloatArray(), y.to(DType.FLOAT32).toFloatArray());
            }
            assertArrayEquals(new long[] {1, -2, 3}, x.to(DType.INT32).toLongArray());
            assertArrayEquals(new long[] {1, 254, 3}, x.to(DType.UINT8).toLongArray());  // -2 wraps to 254
            assertArrayEquals(new long[] {1, 1, 1}, x.to(DType.BOOL).toLongArray());
            assertEquals(2, DType.BFLOAT16.elementSize());
        }
    }

    @Test
    void dropoutIsSeededAndScaled() {
        try (Scope scope = Scope.open(); Generator g1 = new Generator(9); Generator g2 = new Generator(9)) {
            Tensor x = Tensor.ones(1000);
            float[] a = Functional.dropout(x, 0.5, true, g1).toFloatArray();
            float[] b = Functional.dropout(x, 0.5, true, g2).toFloatArray();
            assertArrayEquals(a, b);
            int zeros = 0;
            for (float f : a) {
                assertTrue(f == 0f || f == 2f);
                if (f == 0f) zeros++;
            }
            assertTrue(zeros > 400 && zeros < 600, "about half dropped: " + zeros);
            assertArrayEquals(x.toFloatArray(), Functional.dropout(x, 0.5, false, g1).toFloatArray());
        }
    }

    private static double erf(double x) {
        // Abramowitz-Stegun 7.1.26 is too coarse; integrate exp(-t^2) with Simpson's rule instead.
        int n = 20000;
        double h = x / n, sum = 1 + Math.exp(-x * x);
        for (int i = 1; i < n; i++) sum += (i % 2 == 0 ? 2 : 4) * Math.exp(-Math.pow(i * h, 2));
        return 2 / Math.sqrt(Math.PI) * sum * h / 3;
    }
}
