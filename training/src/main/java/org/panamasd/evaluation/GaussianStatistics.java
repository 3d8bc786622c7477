package org.panamasd.evaluation;

import org.panamasd.DType;
import org.panamasd.Tensor;

/** The mean and covariance of a set of feature vectors, and the Fréchet distance between two such Gaussians (FID). */
public record GaussianStatistics(double[] mean, double[][] covariance, int count) {

    /** From features (N, D), N >= 2. */
    public static GaussianStatistics of(Tensor features) {
        int n = (int) features.size(0), d = (int) features.size(1);
        if (n < 2) throw new IllegalArgumentException("statistics need at least 2 feature vectors, got " + n);
        double[] x = features.to(DType.FLOAT64).contiguous().toDoubleArray();
        double[] mean = new double[d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
        double[][] cov = new double[d][d];
        for (int i = 0; i < n; i++)
            for (int a = 0; a < d; a++) {
                double da = x[i * d + a] - mean[a];
                for (int b = a; b < d; b++) cov[a][b] += da * (x[i * d + b] - mean[b]);
            }
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++) {
                cov[a][b] /= n - 1;
                cov[b][a] = cov[a][b];
            }
        return new GaussianStatistics(mean, cov, n);
    }

    /** The trace of the covariance: the total variance, a measure of spread. */
    public double totalVariance() {
        double t = 0;
        for (int i = 0; i < covariance.length; i++) t += covariance[i][i];
        return t;
    }

    /**
     * d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Heusel et al. 2017). Tr (S1 S2)^(1/2) is the sum of
     * the square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2), a symmetric matrix with the same spectrum.
     */
    public double frechetDistance(GaussianStatistics other) {
        int d = mean.length;
        if (other.mean.length != d) throw new IllegalArgumentException("feature widths differ: " + d + " vs " + other.mean.length);
        double meanTerm = 0;
        for (int i = 0; i < d; i++) meanTerm += Math.pow(mean[i] - other.mean[i], 2);
        double[][] root = sqrtPsd(covariance);
        double[][] m = multiply(multiply(root, other.covariance), root);
        for (int i = 0; i < d; i++) for (int j = i + 1; j < d; j++) m[i][j] = m[j][i] = (m[i][j] + m[j][i]) / 2;
        double traceRoot = 0;
        for (double ev : SymmetricEigen.of(m).values()) traceRoot += Math.sqrt(Math.max(ev, 0));
        return meanTerm + totalVariance() + other.totalVariance() - 2 * traceRoot;
    }

    static double[][] sqrtPsd(double[][] a) {
        SymmetricEigen.Result e = SymmetricEigen.of(a);
        int n = a.length;
        double[][] out = new double[n][n];
        for (int k = 0; k < n; k++) {
            double r = Math.sqrt(Math.max(e.values()[k], 0));
            for (int i = 0; i < n; i++) {
                double vik = e.vectors()[i][k] * r;
                if (vik == 0) continue;
                for (int j = 0; j < n; j++) out[i][j] += vik * e.vectors()[j][k];
            }
        }
        return out;
    }

    static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length, m = b[0].length, k = b.length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < k; p++) {
                double aip = a[i][p];
                if (aip == 0) continue;
                for (int j = 0; j < m; j++) out[i][j] += aip * b[p][j];
            }
        return out;
    }
}
