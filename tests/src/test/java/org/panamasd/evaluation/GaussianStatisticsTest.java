package org.panamasd.evaluation;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** FID's Fréchet distance against closed forms. */
class GaussianStatisticsTest extends NativeTest {

    private static GaussianStatistics stats(double[] mean, double[][] cov) {
        return new GaussianStatistics(mean, cov, 100);
    }

    @Test
    void diagonalCovariancesGiveTheSumOverDimensions() {
        // for diagonal S1, S2: d^2 = |mu1 - mu2|^2 + sum_i (sqrt(s1_i) - sqrt(s2_i))^2
        double[][] s1 = {{4, 0, 0}, {0, 1, 0}, {0, 0, 9}}, s2 = {{1, 0, 0}, {0, 1, 0}, {0, 0, 0.25}};
        double expected = (1 + 4 + 0) + Math.pow(2 - 1, 2) + 0 + Math.pow(3 - 0.5, 2);
        assertClose(expected, stats(new double[] {1, 2, 3}, s1).frechetDistance(stats(new double[] {0, 0, 3}, s2)), 1e-9);
    }

    @Test
    void aRotatedCovarianceIsComparedInItsOwnBasis() {
        // S2 = R S1 R^T with R a rotation: Tr((S1 S2)^1/2) is not Tr(S1) unless the bases agree; check against 2-D algebra:
        // for 2x2 PSD matrices, Tr sqrt(M) = sqrt(Tr M + 2 sqrt(det M)) with M = S1 S2
        double c = Math.cos(0.7), s = Math.sin(0.7);
        double[][] s1 = {{3, 0}, {0, 1}};
        double[][] s2 = {{3 * c * c + s * s, (3 - 1) * c * s}, {(3 - 1) * c * s, 3 * s * s + c * c}};
        double[][] m = GaussianStatistics.multiply(s1, s2);
        double trM = m[0][0] + m[1][1], detM = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        double expected = 4 + 4 - 2 * Math.sqrt(trM + 2 * Math.sqrt(detM));
        assertClose(expected, stats(new double[] {0, 0}, s1).frechetDistance(stats(new double[] {0, 0}, s2)), 1e-9);
    }

    @Test
    void samplesOfOneGaussianAreCloseAndAShiftedOneIsNot() {
        try (Scope scope = Scope.open(); Generator g = new Generator(3)) {
            GaussianStatistics a = GaussianStatistics.of(Tensor.randn(g, 4000, 8)), b = GaussianStatistics.of(Tensor.randn(g, 4000, 8));
            GaussianStatistics shifted = GaussianStatistics.of(Tensor.randn(g, 4000, 8).add(1));
            assertClose(0.0, a.frechetDistance(a), 1e-9);
            assertTrue(a.frechetDistance(b) < 0.05, "same distribution: " + a.frechetDistance(b));
            assertClose(8.0, a.frechetDistance(shifted), 0.2);  // |mu|^2 = 8, covariances equal
            assertClose(8.0, a.totalVariance(), 0.4);
        }
    }
}
