package org.panamasd.evaluation;

import org.panamasd.DType;
import org.panamasd.Op;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) in a feature space: each set's manifold is the union
 * of balls around its points with radius the distance to the k-th nearest neighbour in the same set. Precision
 * is the share of generated samples inside the real manifold (are the samples realistic?), recall the share of
 * real samples inside the generated manifold (is the real variety covered?). A collapsed generator keeps its
 * precision and loses its recall.
 */
public record PrecisionRecall(double precision, double recall) {
    /** The paper's neighbourhood size. */
    public static final int K = 3;

    /** Real (N, D) and generated (M, D) features. */
    public static PrecisionRecall of(Tensor real, Tensor generated, int k) {
        if (real.size(0) <= k || generated.size(0) <= k)
            throw new IllegalArgumentException("precision and recall with k = " + k + " need more than k samples on each side, got "
                    + real.size(0) + " real and " + generated.size(0) + " generated");
        try (Scope s = Scope.open()) {
            real = real.to(DType.FLOAT64);  // |a|^2 + |b|^2 - 2 a.b cancels: float64 keeps near neighbours apart
            generated = generated.to(DType.FLOAT64);
            Tensor realRadii = kthNeighbourSquared(real, k), generatedRadii = kthNeighbourSquared(generated, k);
            Tensor between = squaredDistances(generated, real);                                    // (M, N)
            double precision = within(between, realRadii.unsqueeze(0));
            double recall = within(between.transpose(0, 1), generatedRadii.unsqueeze(0));
            return new PrecisionRecall(precision, recall);
        }
    }

    /** The share of rows of {@code distances} with at least one entry within its column's radius. */
    private static double within(Tensor distances, Tensor radii) {
        Tensor inside = distances.le(radii).to(DType.FLOAT32).max(1, false);
        return inside.mean().item();
    }

    /** Each row's squared distance to its k-th nearest other row (the row itself, at 0, is the 0-th). */
    static Tensor kthNeighbourSquared(Tensor x, int k) {
        Tensor d = squaredDistances(x, x);
        return (Tensor) Op.find("aten::kthvalue", "").call(d, (long) (k + 1), 1L, false).get(0);
    }

    /** |a_i - b_j|^2 for all pairs, (rows of a, rows of b), never negative. */
    static Tensor squaredDistances(Tensor a, Tensor b) {
        Tensor aa = a.pow(2).sum(new long[] {1}, true), bb = b.pow(2).sum(new long[] {1}, true).transpose(0, 1);
        return aa.add(bb).sub(a.matmul(b.transpose(0, 1)).mul(2)).clampMin(0);
    }
}
