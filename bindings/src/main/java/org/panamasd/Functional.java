package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;

/** Layer functions over tensors (torch.nn.functional): the nn layers are built from these. */
public final class Functional {

    public enum Interpolation { NEAREST, BILINEAR, BICUBIC }

    public enum PadMode { CONSTANT, REFLECT, REPLICATE }

    public enum Reduction { NONE, MEAN, SUM }

    private static MemorySegment orNull(Tensor t) {
        return t == null ? MemorySegment.NULL : t.handle();
    }

    /** x @ weight^T + bias; bias may be null. */
    public static Tensor linear(Tensor input, Tensor weight, Tensor bias) {
        MemorySegment x = input.handle(), w = weight.handle(), b = orNull(bias);
        return Tensor.produce("psd_tensor_linear", (s, r) -> psd_tensor_linear(x, w, b, r));
    }

    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias, long stride, long padding) {
        return conv2d(input, weight, bias, new long[] {stride, stride}, new long[] {padding, padding}, new long[] {1, 1}, 1);
    }

    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias, long[] stride, long[] padding, long[] dilation, long groups) {
        MemorySegment x = input.handle(), w = weight.handle(), b = orNull(bias);
        return Tensor.produce("psd_tensor_conv2d", (s, r) -> psd_tensor_conv2d(x, w, b, s.longs(pair(stride, "stride")),
                s.longs(pair(padding, "padding")), s.longs(pair(dilation, "dilation")), groups, r));
    }

    /**
     * A conv weight (out, in / groups, kh, kw; float32, CPU) reordered once into oneDNN's blocked layout for this
     * stride, padding and dilation (1) and groups (1): an opaque oneDNN tensor that only
     * {@link #conv2dPrepacked} takes. Inference only; fails with status 5 (unavailable) when this libtorch has
     * no oneDNN ({@link Torch#hasMkldnn()}).
     */
    public static Tensor conv2dPrepack(Tensor weight, long stride, long padding) {
        MemorySegment w = weight.handle();
        return Tensor.produce("psd_tensor_conv2d_prepack", (s, r) -> psd_tensor_conv2d_prepack(w, s.longs(stride, stride),
                s.longs(padding, padding), s.longs(1, 1), 1, r));
    }

    /**
     * conv2d with a weight from {@link #conv2dPrepack} (same stride and padding) on a dense CPU input: the output is
     * dense, contiguous NCHW, equal to {@link #conv2d} within float32 rounding. Inference only: refused when grad
     * mode is on and the input or bias requires grad. bias may be null.
     */
    public static Tensor conv2dPrepacked(Tensor input, Tensor packedWeight, Tensor bias, long stride, long padding) {
        MemorySegment x = input.handle(), w = packedWeight.handle(), b = orNull(bias);
        return Tensor.produce("psd_tensor_conv2d_prepacked", (s, r) -> psd_tensor_conv2d_prepacked(x, w, b, s.longs(stride, stride),
                s.longs(padding, padding), s.longs(1, 1), 1, r));
    }

    public static Tensor convTranspose2d(Tensor input, Tensor weight, Tensor bias, long[] stride, long[] padding,
                                         long[] outputPadding, long groups, long[] dilation) {
        MemorySegment x = input.handle(), w = weight.handle(), b = orNull(bias);
        return Tensor.produce("psd_tensor_conv_transpose2d", (s, r) -> psd_tensor_conv_transpose2d(x, w, b, s.longs(pair(stride, "stride")),
                s.longs(pair(padding, "padding")), s.longs(pair(outputPadding, "output_padding")), groups, s.longs(pair(dilation, "dilation")), r));
    }

    public static Tensor groupNorm(Tensor input, long groups, Tensor weight, Tensor bias, double eps) {
        MemorySegment x = input.handle(), w = orNull(weight), b = orNull(bias);
        return Tensor.produce("psd_tensor_group_norm", (s, r) -> psd_tensor_group_norm(x, groups, w, b, eps, r));
    }

    /**
     * Per sample and channel of a 4-d {@code input} (batch, channels, height, width): the sum of its values and of
     * their squares, in double, as a (2, batch, channels) float64 tensor; one pass without temporaries for float32
     * and bfloat16 inputs laid out NCHW or channels-last (a band of rows of either too).
     */
    public static Tensor channelMoments(Tensor input) {
        MemorySegment x = input.handle();
        return Tensor.produce("psd_tensor_channel_moments", (s, r) -> psd_tensor_channel_moments(x, r));
    }

    /** SiLU(input * scale + shift) (broadcast) with one allocation: the SiLU in place unless autograd records it. */
    public static Tensor scaleShiftSilu(Tensor input, Tensor scale, Tensor shift) {
        MemorySegment x = input.handle(), sc = scale.handle(), sh = shift.handle();
        return Tensor.produce("psd_tensor_scale_shift_silu", (s, r) -> psd_tensor_scale_shift_silu(x, sc, sh, r));
    }

    /**
     * {@code weight} (floating point) quantized per row (dim 0) to int8 in [-127, 127]: {@code scale} (a float32
     * vector of one entry per row, written here) gets each row's largest magnitude / 127 (1 for an all-zero row), the
     * result {@code round(weight[r, ...] / scale[r])}, ties to even, in one pass without float temporaries.
     */
    public static Tensor quantizeRows(Tensor weight, Tensor scale) {
        MemorySegment w = weight.handle(), sc = scale.handle();
        return Tensor.produce("psd_tensor_quantize_rows", (s, r) -> psd_tensor_quantize_rows(w, sc, r));
    }

    /**
     * A weight kept as int8 rows with a float32 scale per row (dim 0), in {@code dtype} (float32 or bfloat16, rounded
     * to nearest even): {@code quantized[r, ...] * scale[r]}, in one pass on the CPU.
     */
    public static Tensor dequantizeRows(Tensor quantized, Tensor scale, DType dtype) {
        MemorySegment q = quantized.handle(), sc = scale.handle();
        int code = dtype.code();
        return Tensor.produce("psd_tensor_dequantize_rows", (s, r) -> psd_tensor_dequantize_rows(q, sc, code, r));
    }

    /** SiLU(groupNorm(...)) in one call; the SiLU runs in place on the norm's output unless autograd needs it. */
    public static Tensor groupNormSilu(Tensor input, long groups, Tensor weight, Tensor bias, double eps) {
        MemorySegment x = input.handle(), w = orNull(weight), b = orNull(bias);
        return Tensor.produce("psd_tensor_group_norm_silu", (s, r) -> psd_tensor_group_norm_silu(x, groups, w, b, eps, r));
    }

    /**
     * GEGLU's activation (Shazeer 2020; diffusers' GEGLU after its projection): {@code input}'s last dimension holds a
     * value half and a gate half; the result, half as wide, is value * gelu(gate) with the exact erf.
     */
    public static Tensor geglu(Tensor input) {
        MemorySegment x = input.handle();
        return Tensor.produce("psd_tensor_geglu", (s, r) -> psd_tensor_geglu(x, r));
    }

    public static Tensor layerNorm(Tensor input, long[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        MemorySegment x = input.handle(), w = orNull(weight), b = orNull(bias);
        return Tensor.produce("psd_tensor_layer_norm", (s, r) -> psd_tensor_layer_norm(x, s.longs(normalizedShape), normalizedShape.length, w, b, eps, r));
    }

    public static Tensor embedding(Tensor weight, Tensor indices) {
        MemorySegment w = weight.handle(), i = indices.handle();
        return Tensor.produce("psd_tensor_embedding", (s, r) -> psd_tensor_embedding(w, i, r));
    }

    /** Resizes the last two dims to (height, width). alignCorners: null for nearest. */
    public static Tensor interpolate(Tensor input, long height, long width, Interpolation mode, Boolean alignCorners) {
        MemorySegment x = input.handle();
        int align = alignCorners == null ? -1 : alignCorners ? 1 : 0;
        return Tensor.produce("psd_tensor_interpolate", (s, r) -> psd_tensor_interpolate(x, height, width, 0, 0, code(mode), align, r));
    }

    /** Scales the last two dims by the given factors (output size floor(in * scale)). */
    public static Tensor interpolate(Tensor input, double scaleH, double scaleW, Interpolation mode, Boolean alignCorners) {
        MemorySegment x = input.handle();
        int align = alignCorners == null ? -1 : alignCorners ? 1 : 0;
        return Tensor.produce("psd_tensor_interpolate", (s, r) -> psd_tensor_interpolate(x, 0, 0, scaleH, scaleW, code(mode), align, r));
    }

    public static Tensor avgPool2d(Tensor input, long kernel, long stride) {
        MemorySegment x = input.handle();
        return Tensor.produce("psd_tensor_avg_pool2d", (s, r) -> psd_tensor_avg_pool2d(x, s.longs(kernel, kernel), s.longs(stride, stride),
                s.longs(0, 0), false, true, r));
    }

    public static Tensor maxPool2d(Tensor input, long kernel, long stride, long padding) {
        MemorySegment x = input.handle();
        return Tensor.produce("psd_tensor_max_pool2d", (s, r) -> psd_tensor_max_pool2d(x, s.longs(kernel, kernel), s.longs(stride, stride),
                s.longs(padding, padding), s.longs(1, 1), false, r));
    }

    /** pads as torch.nn.functional.pad: (left, right, top, bottom, ...) from the last dim backwards. */
    public static Tensor pad(Tensor input, long[] pads, PadMode mode, double value) {
        MemorySegment x = input.handle();
        return Tensor.produce("psd_tensor_pad", (s, r) -> psd_tensor_pad(x, s.longs(pads), pads.length, code(mode), value, r));
    }

    /** Inverted dropout drawing its mask from {@code generator} (null: libtorch's default generator). */
    public static Tensor dropout(Tensor input, double p, boolean train, Generator generator) {
        MemorySegment x = input.handle();
        return Tensor.produce("psd_tensor_dropout", (s, r) -> psd_tensor_dropout(x, p, train, Generator.handleOrNull(generator), r));
    }

    public static Tensor mseLoss(Tensor input, Tensor target, Reduction reduction) {
        MemorySegment x = input.handle(), t = target.handle();
        return Tensor.produce("psd_tensor_mse_loss", (s, r) -> psd_tensor_mse_loss(x, t, code(reduction), r));
    }

    public static Tensor l1Loss(Tensor input, Tensor target, Reduction reduction) {
        MemorySegment x = input.handle(), t = target.handle();
        return Tensor.produce("psd_tensor_l1_loss", (s, r) -> psd_tensor_l1_loss(x, t, code(reduction), r));
    }

    /**
     * softmax(q k^T * scale + mask) v over (..., L, E) inputs; mask may be null (bool: true keeps,
     * float: added); scale <= 0 means 1/sqrt(E). libtorch's fused kernel where it has one.
     */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor mask, double dropoutP, boolean causal, double scale) {
        MemorySegment qh = q.handle(), kh = k.handle(), vh = v.handle(), m = orNull(mask);
        return Tensor.produce("psd_tensor_scaled_dot_product_attention",
                (s, r) -> psd_tensor_scaled_dot_product_attention(qh, kh, vh, m, dropoutP, causal, scale, r));
    }

    private static int code(Interpolation mode) {
        return switch (mode) {
            case NEAREST -> PSD_INTERP_NEAREST();
            case BILINEAR -> PSD_INTERP_BILINEAR();
            case BICUBIC -> PSD_INTERP_BICUBIC();
        };
    }

    private static int code(PadMode mode) {
        return switch (mode) {
            case CONSTANT -> PSD_PAD_CONSTANT();
            case REFLECT -> PSD_PAD_REFLECT();
            case REPLICATE -> PSD_PAD_REPLICATE();
        };
    }

    private static int code(Reduction reduction) {
        return switch (reduction) {
            case NONE -> PSD_REDUCTION_NONE();
            case MEAN -> PSD_REDUCTION_MEAN();
            case SUM -> PSD_REDUCTION_SUM();
        };
    }

    private static long[] pair(long[] values, String what) {
        if (values.length != 2) throw new IllegalArgumentException(what + " needs 2 values, got " + values.length);
        return values;
    }

    private Functional() {}
}
