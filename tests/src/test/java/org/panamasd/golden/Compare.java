package org.panamasd.golden;

import java.util.Arrays;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/** The golden match rule: |got - expected| <= atol + rtol * |expected| elementwise; int64 exactly. */
public final class Compare {

    public static void tensors(String what, Tensor expected, Tensor got, double atol, double rtol) {
        if (!Arrays.equals(expected.shape(), got.shape()))
            throw new AssertionError(what + ": shape " + Arrays.toString(got.shape()) + ", expected " + Arrays.toString(expected.shape()));
        try (Scope scope = Scope.open()) {
            if (expected.dtype() == DType.INT64) {
                long[] e = expected.toLongArray(), g = got.toLongArray();
                for (int i = 0; i < e.length; i++)
                    if (e[i] != g[i]) throw new AssertionError(what + "[" + i + "]: " + g[i] + ", expected " + e[i] + " (exact)");
                return;
            }
            double[] e = expected.toDoubleArray(), g = got.toDoubleArray();
            values(what, e, g, atol, rtol);
        }
    }

    public static void values(String what, double[] expected, double[] got, double atol, double rtol) {
        if (expected.length != got.length) throw new AssertionError(what + ": " + got.length + " values, expected " + expected.length);
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.length; i++) {
            double bound = atol + rtol * Math.abs(expected[i]);
            double error = Math.abs(got[i] - expected[i]);
            boolean bad = !(error <= bound) && !(Double.isNaN(expected[i]) && Double.isNaN(got[i]))
                    && !(Double.isInfinite(expected[i]) && expected[i] == got[i]);
            if (bad && (worst < 0 || error - bound > worstExcess)) {
                worst = i;
                worstExcess = error - bound;
            }
        }
        if (worst >= 0)
            throw new AssertionError(what + "[" + worst + "]: " + got[worst] + ", expected " + expected[worst]
                    + " (|diff| " + Math.abs(got[worst] - expected[worst]) + " > " + (atol + rtol * Math.abs(expected[worst])) + ")");
    }

    public static void exact(String what, long[] expected, long[] got) {
        if (!Arrays.equals(expected, got)) throw new AssertionError(what + ": " + Arrays.toString(got) + ", expected " + Arrays.toString(expected));
    }

    private Compare() {}
}
