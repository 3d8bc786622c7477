package org.panamasd.training.features;

import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.dinov2.Dinov2Model;
import org.panamasd.support.NativeTest;
import org.panamasd.training.LearningRateSchedule;

/** DINO's loss, centre, multi-crop views and momentum teacher, each against a computation written out here. */
class DinoTest extends NativeTest {
    private static final String TINY_VIT = """
            {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 16, "patch_size": 4, "num_channels": 3}""";

    /** The loss written out with doubles: mean over (teacher view q, student view v != q) of -sum_k P_t log P_s. */
    @Test
    void theLossIsTheCrossEntropyOfTheCentredSharpenedTeacherOverPairsOfDifferentViews() {
        int b = 2, k = 3;
        double tt = 0.04, ts = 0.1;
        try (Scope s = Scope.open(); Generator g = new Generator(5)) {
            List<Tensor> teacher = List.of(Tensor.randn(g, b, k), Tensor.randn(g, b, k));
            List<Tensor> student = List.of(Tensor.randn(g, b, k), Tensor.randn(g, b, k), Tensor.randn(g, b, k));
            Tensor center = Tensor.randn(g, 1, k);
            double[] c = center.toDoubleArray();
            double expected = 0;
            int pairs = 0;
            for (int q = 0; q < teacher.size(); q++) {
                double[] t = teacher.get(q).toDoubleArray();
                for (int v = 0; v < student.size(); v++) {
                    if (v == q) continue;
                    double[] sv = student.get(v).toDoubleArray();
                    double sum = 0;
                    for (int i = 0; i < b; i++) {
                        double[] p = new double[k], logits = new double[k];
                        for (int j = 0; j < k; j++) p[j] = (t[i * k + j] - c[j]) / tt;
                        for (int j = 0; j < k; j++) logits[j] = sv[i * k + j] / ts;
                        double[] probs = softmax(p), logProbs = logSoftmax(logits);
                        for (int j = 0; j < k; j++) sum -= probs[j] * logProbs[j];
                    }
                    expected += sum / b;
                    pairs++;
                }
            }
            expected /= pairs;
            assertEquals(4, pairs, "2 teacher views x 3 student views, less the 2 pairs of a view with itself");
            assertClose(expected, DinoLoss.of(teacher, student, center, tt, ts).item(), 1e-4);
        }
    }

    @Test
    void theCentreMovesTowardTheTeachersMeanOverEveryGlobalView() {
        try (Scope s = Scope.open()) {
            Tensor center = Tensor.of(new double[] {1, 0}, 1, 2);
            List<Tensor> teacher = List.of(Tensor.of(new double[] {2, 4, 4, 8}, 2, 2), Tensor.of(new double[] {0, 0, 2, 0}, 2, 2));
            DinoLoss.updateCenter(center, teacher, 0.9);
            // mean over the 4 rows: (2, 3); 0.9 (1, 0) + 0.1 (2, 3)
            assertClose(new double[] {1.1, 0.3}, center.toDoubleArray(), 1e-6, 0);
        }
    }

    @Test
    void multiCropGivesGlobalViewsAtFullSizeThenLocalOnesInRangeAndReproducibly() {
        MultiCrop crops = new MultiCrop(2, new double[] {0.4, 1}, 3, new double[] {0.05, 0.4}, 8);
        try (Scope s = Scope.open(); Generator g = new Generator(1); Generator again = new Generator(1); Generator third = new Generator(1); Generator other = new Generator(2)) {
            Tensor images = Tensor.rand(g, 4, 3, 16, 16).mul(2).sub(1);
            List<Tensor> views = crops.views(images, again), same = crops.views(images, third), different = crops.views(images, other);
            assertEquals(5, views.size());
            for (int v = 0; v < 5; v++) {
                long side = v < 2 ? 16 : 8;
                assertArrayEquals(new long[] {4, 3, side, side}, views.get(v).shape(), "view " + v);
                assertTrue(views.get(v).abs().max().item() <= 1 + 1e-6, "view " + v + " stays in [-1, 1]");
                assertArrayEquals(views.get(v).toFloatArray(), same.get(v).toFloatArray(), "the same seed gives the same view " + v);
            }
            assertFalse(java.util.Arrays.equals(views.get(0).toFloatArray(), different.get(0).toFloatArray()), "another seed crops elsewhere");
            assertFalse(java.util.Arrays.equals(views.get(0).toFloatArray(), views.get(1).toFloatArray()), "the two global views differ");
        }
    }

    /**
     * After one step the teacher is m (its start, the student's initial weights) + (1 - m) (the student after its
     * step), m = 1 - (1 - m0) (cos(pi / K) + 1) / 2 at step 1 of K; the teacher takes no gradient and the student moved.
     */
    @Test
    void theTeacherIsTheMomentumAverageOfTheStudent() {
        DiffusersConfig config = DiffusersConfig.parse(TINY_VIT);
        DinoTrainer.Settings settings = new DinoTrainer.Settings(new MultiCrop(2, new double[] {0.4, 1}, 2, new double[] {0.1, 0.4}, 8),
                32, 8, 16, 0.1, 0.04, 0.07, 0.3, 0.9, 0.9, 0.0, 3.0);
        int total = 10;
        try (Scope s = Scope.open(); Generator g = new Generator(3);
             Dinov2Model student = Dinov2Model.initialize(config, 1); Dinov2Model teacher = Dinov2Model.initialize(config, 2);
             DinoTrainer trainer = new DinoTrainer(student, teacher, settings, new LearningRateSchedule(1e-2, 0, total, 1.0), 4)) {
            Map<String, float[]> before = new LinkedHashMap<>();
            student.parameters().forEach((k, v) -> before.put(k, v.toFloatArray()));
            teacher.parameters().forEach((k, v) -> assertArrayEquals(before.get(k), v.toFloatArray(), "the teacher starts as the student: " + k));
            DinoTrainer.Step step = trainer.step(Tensor.rand(g, 8, 3, 16, 16).mul(2).sub(1), g);
            assertTrue(Double.isFinite(step.loss()) && step.loss() > 0, "loss " + step.loss());
            assertTrue(step.teacherEntropy() > 0 && step.teacherEntropy() <= Math.log(16) + 1e-6, "entropy " + step.teacherEntropy());
            double m = 1 - (1 - 0.9) * (Math.cos(Math.PI / total) + 1) / 2;
            boolean moved = false;
            for (var e : student.parameters().entrySet()) {
                float[] start = before.get(e.getKey()), after = e.getValue().toFloatArray();
                double[] expected = new double[start.length];
                for (int i = 0; i < start.length; i++) {
                    expected[i] = m * start[i] + (1 - m) * after[i];
                    moved |= after[i] != start[i];
                }
                Tensor t = teacher.parameters().get(e.getKey());
                assertFalse(t.requiresGrad(), "the teacher is frozen: " + e.getKey());
                assertClose(expected, toDoubles(t.toFloatArray()), 1e-6, 1e-5);
            }
            assertTrue(moved, "the student took a step");
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    private static double[] softmax(double[] x) {
        double max = java.util.Arrays.stream(x).max().orElseThrow(), sum = 0;
        double[] e = new double[x.length];
        for (int i = 0; i < x.length; i++) sum += e[i] = Math.exp(x[i] - max);
        for (int i = 0; i < x.length; i++) e[i] /= sum;
        return e;
    }

    private static double[] logSoftmax(double[] x) {
        double max = java.util.Arrays.stream(x).max().orElseThrow(), sum = 0;
        for (double v : x) sum += Math.exp(v - max);
        double log = max + Math.log(sum);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] - log;
        return out;
    }
}
