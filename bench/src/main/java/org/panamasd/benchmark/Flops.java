package org.panamasd.benchmark;

/**
 * Floating-point operations of a forward pass by kind, counting a multiply-add as two: convolutions, matrix
 * products of linear layers (and 1x1 projections written as linear), and attention's two batched products
 * (q kᵀ and the weighted sum of v). Norms, activations, softmax and other elementwise work are not counted:
 * they are a few percent of the total and depend on how a kernel is written, not on the model.
 */
public record Flops(long conv, long linear, long attention) {
    public static final Flops ZERO = new Flops(0, 0, 0);

    public long total() {
        return conv + linear + attention;
    }

    public Flops plus(Flops o) {
        return new Flops(conv + o.conv, linear + o.linear, attention + o.attention);
    }

    public Flops times(long n) {
        return new Flops(conv * n, linear * n, attention * n);
    }

    /** A k x k convolution from cin to cout channels with stride 1 or 2 (output size given), on a batch. */
    static Flops conv(long batch, long cin, long cout, long kernel, long outH, long outW) {
        return new Flops(2 * batch * cout * outH * outW * cin * kernel * kernel, 0, 0);
    }

    /** A linear layer applied to {@code rows} vectors. */
    static Flops linear(long rows, long in, long out) {
        return new Flops(0, 2 * rows * in * out, 0);
    }

    /** softmax(q kᵀ) v over {@code heads} heads of width {@code headDim}: two (queries x keys x headDim) products per head. */
    static Flops attention(long batch, long heads, long queries, long keys, long headDim) {
        return new Flops(0, 0, 2 * 2 * batch * heads * queries * keys * headDim);
    }
}
