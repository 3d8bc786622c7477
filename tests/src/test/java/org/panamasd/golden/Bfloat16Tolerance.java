package org.panamasd.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * How far a model computed in bfloat16 may be from the float32 reference: bounds derived from bfloat16's
 * precision and the models' depth, stated before the runs, not fitted to them.
 *
 * <p>bfloat16 keeps 8 significant bits: U = 2^-8 (3.9e-3) is its spacing relative to a value, and rounding to
 * nearest errs by at most U/2. In a bfloat16 run the weights, the inputs and every activation a model stores are
 * rounded so (norms and softmax compute inside in float32, their outputs are rounded too). The models are
 * normalised residual networks (a norm before each block, block outputs added to a residual stream), which carry
 * a relative error forward with a gain of about 1 rather than amplify it, and independent rounding errors add in
 * quadrature: after K roundings along the longest path the error is about sqrt(K) U/2 of the tensor's scale.
 * Counted stage by stage, the golden cases' longest paths have about 260 roundings (unet-sd1-tiny: conv_in, 9
 * resnets of 8, 6 transformers of about 26, the up- and downsamplers, the output), the VAE's round trip about
 * 125, the CLIP encoders about 40; K = 400 bounds them all. Hence, per compared tensor:
 * <ul>
 *   <li>normwise: ||got - ref|| <= sqrt(400) U/2 ||ref|| = 10 U ||ref|| (3.9 %);</li>
 *   <li>elementwise: |got_i - ref_i| <= 6 x 10 U x rms(ref): the largest of n <= 10^6 errors of one spread is
 *   about sqrt(2 ln n) <= 5.3 times that spread, 6 with a margin. Not relative to |ref_i|: a rounding error is
 *   relative to its tensor's scale, so elements near 0 carry errors of the scale's size;</li>
 *   <li>applied: a model output closer than 2^-14 (6e-5) normwise was not computed in bfloat16. Rounding the
 *   weights alone errs by about U/2, while the float32 runs match the reference to about 1e-6.</li>
 * </ul>
 * An image in [0, 1] is compared by PSNR = 10 log10(1 / mean squared error); the threshold, 30 dB, is an RMS error
 * of 10^-1.5 = 3.2 % of the range, 8 U: within the normwise bound for images whose RMS is at least 0.8 of the range
 * and, for darker ones, a bound on the visible error rather than the relative one.
 */
public final class Bfloat16Tolerance {
    public static final double U = 0x1p-8;
    public static final double NORMWISE = Math.sqrt(400) * U / 2;
    public static final double ELEMENTWISE_RMS = 6 * NORMWISE;
    public static final double APPLIED = 0x1p-14;
    public static final double MIN_PSNR_DB = 30;

    /** Fails beyond the normwise or the elementwise bound; returns the normwise relative error. */
    public static double check(String what, Tensor expected, Tensor got) {
        if (!Arrays.equals(expected.shape(), got.shape()))
            throw new AssertionError(what + ": shape " + Arrays.toString(got.shape()) + ", expected " + Arrays.toString(expected.shape()));
        double[] e, g;
        try (Scope scope = Scope.open()) {
            e = expected.toDoubleArray();
            g = got.toDoubleArray();
        }
        double errorSquares = 0, referenceSquares = 0, worst = 0;
        int worstAt = 0;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs(g[i] - e[i]);
            if (!(d <= worst)) {
                worst = d;
                worstAt = i;
            }
            errorSquares += d * d;
            referenceSquares += e[i] * e[i];
        }
        double relative = Math.sqrt(errorSquares / referenceSquares), rms = Math.sqrt(referenceSquares / e.length);
        if (!(relative <= NORMWISE))
            throw new AssertionError(String.format("%s: normwise relative error %.3g > %.3g (10 U)", what, relative, NORMWISE));
        if (!(worst <= ELEMENTWISE_RMS * rms))
            throw new AssertionError(String.format("%s[%d]: %s, expected %s: |diff| %.3g > %.3g (60 U x rms %.3g)", what, worstAt, g[worstAt], e[worstAt],
                    worst, ELEMENTWISE_RMS * rms, rms));
        return relative;
    }

    /** {@link #check}, and the error shows bfloat16 was used: at least 2^-14 normwise. */
    public static double checkApplied(String what, Tensor expected, Tensor got) {
        double relative = check(what, expected, got);
        if (relative < APPLIED)
            throw new AssertionError(String.format("%s: normwise error %.3g < %.3g: not computed in bfloat16", what, relative, APPLIED));
        System.out.printf("bfloat16 %s: normwise relative error %.3g (bound %.3g)%n", what, relative, NORMWISE);
        return relative;
    }

    /** PSNR in dB of an image in [0, 1] against a reference. */
    public static double psnr(Tensor reference, Tensor image) {
        assertEquals(Arrays.toString(reference.shape()), Arrays.toString(image.shape()), "image shapes");
        double[] r, x;
        try (Scope scope = Scope.open()) {
            r = reference.toDoubleArray();
            x = image.toDoubleArray();
        }
        double squares = 0;
        for (int i = 0; i < r.length; i++) squares += (x[i] - r[i]) * (x[i] - r[i]);
        return 10 * Math.log10(1 / (squares / r.length));
    }

    /**
     * Asserts that {@code image} agrees with {@code reference} to at least {@link #MIN_PSNR_DB} but is not identical
     * to it (an identical image means {@code change} was not applied); prints and returns the PSNR.
     */
    public static double assertImagesAgree(String what, String change, Tensor reference, Tensor image) {
        double db = psnr(reference, image);
        System.out.printf("%s, %s: PSNR %.1f dB%n", change, what, db);
        if (db < MIN_PSNR_DB) throw new AssertionError(what + ": PSNR " + db + " dB < " + MIN_PSNR_DB + " (" + change + ")");
        if (db >= 100) throw new AssertionError(what + ": the images are identical: " + change + " was not applied");
        return db;
    }

    /** Every floating-point parameter is in {@code dtype}. */
    public static void assertWeightsIn(DType dtype, Map<String, Tensor> parameters) {
        if (parameters.isEmpty()) throw new AssertionError("no parameters");
        parameters.forEach((key, t) -> {
            if (t.dtype().isFloatingPoint() && t.dtype() != dtype) throw new AssertionError(key + " is " + t.dtype() + ", not " + dtype);
        });
    }

    private Bfloat16Tolerance() {}
}
