package org.panamasd.nn;

import java.util.Locale;

/**
 * The ways {@link Conv2d} can run an inference convolution on the CPU; all give the same result within float32
 * rounding, at different speeds per shape.
 */
public enum ConvBackend {
    /** libtorch's conv2d on the NCHW input (its oneDNN path reorders the weight on every call). */
    DENSE("dense"),
    /** oneDNN with the weight reordered once and kept ({@code psd_tensor_conv2d_prepack}); NCHW in and out. */
    PREPACKED("prepacked"),
    /** libtorch's conv2d on a channels-last (NHWC) copy of the input, the output made NCHW again. */
    CHANNELS_LAST("channels-last");

    public final String label;

    ConvBackend(String label) {
        this.label = label;
    }

    /** By label ({@code dense}, {@code prepacked}, {@code channels-last}; case and '_' for '-' ignored), or null. */
    public static ConvBackend byLabel(String label) {
        String l = label.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (ConvBackend b : values()) if (b.label.equals(l)) return b;
        return null;
    }
}
