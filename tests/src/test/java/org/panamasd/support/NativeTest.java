package org.panamasd.support;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.extension.ExtendWith;
import org.panamasd.Tensor;

/** Base of tests that touch native tensors: the class ends with a leak check. */
@ExtendWith(LeakCheck.class)
public abstract class NativeTest {

    /** |got - expected| <= atol + rtol * |expected|, elementwise. */
    protected static void assertClose(double[] expected, double[] got, double atol, double rtol) {
        assertEquals(expected.length, got.length, "element count");
        for (int i = 0; i < expected.length; i++) {
            double bound = atol + rtol * Math.abs(expected[i]);
            if (!(Math.abs(got[i] - expected[i]) <= bound))
                throw new AssertionError("element " + i + ": expected " + expected[i] + " got " + got[i] + " (bound " + bound + ")");
        }
    }

    protected static void assertClose(double expected, double got, double atol) {
        assertClose(new double[] {expected}, new double[] {got}, atol, 0);
    }

    protected static double[] values(Tensor t) {
        return t.toDoubleArray();
    }
}
