package org.panamasd.training.add;

import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Tensor;

/**
 * Differentiable augmentation (Zhao et al. 2020) applied to real and generated images alike before the
 * feature network, so the discriminator cannot memorise the few real images it sees: per-sample colour
 * (brightness, saturation, contrast), translation by up to 1/8 of the size, and a cutout of half the size.
 * Every op is differentiable in the image, so the student's gradient flows through.
 */
public final class DiffAugment {
    private DiffAugment() {}

    /** images (B, C, H, W) in [-1, 1]. */
    public static Tensor apply(Tensor images, Generator g) {
        long b = images.size(0), h = images.size(2), w = images.size(3);
        long[] perSample = {b, 1, 1, 1};
        Tensor x = images.add(Tensor.rand(g, perSample).sub(0.5));                                     // brightness
        Tensor grey = x.mean(new long[] {1}, true);
        x = x.sub(grey).mul(Tensor.rand(g, perSample).mul(2)).add(grey);                               // saturation
        Tensor mean = x.mean(new long[] {1, 2, 3}, true);
        x = x.sub(mean).mul(Tensor.rand(g, perSample).add(0.5)).add(mean);                             // contrast
        x = translate(x, Math.max(1, h / 8), g);
        return cutout(x, h / 2, w / 2, g);
    }

    /** One shift for the batch, up to {@code max} pixels each way; uncovered pixels are background (-1). */
    private static Tensor translate(Tensor x, long max, Generator g) {
        long[] shift = Tensor.randint(0, 2 * max + 1, g, 2).toLongArray();
        Tensor padded = org.panamasd.Functional.pad(x, new long[] {max, max, max, max}, org.panamasd.Functional.PadMode.CONSTANT, -1);
        return padded.narrow(2, shift[0], x.size(2)).narrow(3, shift[1], x.size(3));
    }

    /** Per sample, a (ch x cw) square at a random centre is set to 0 (mid grey). */
    private static Tensor cutout(Tensor x, long ch, long cw, Generator g) {
        long b = x.size(0), h = x.size(2), w = x.size(3);
        Tensor cy = Tensor.randint(0, h + (1 - ch % 2), g, b, 1, 1, 1).to(DType.FLOAT32);
        Tensor cx = Tensor.randint(0, w + (1 - cw % 2), g, b, 1, 1, 1).to(DType.FLOAT32);
        Tensor ys = Tensor.arange(0, h, 1, DType.FLOAT32).reshape(1, 1, h, 1);
        Tensor xs = Tensor.arange(0, w, 1, DType.FLOAT32).reshape(1, 1, 1, w);
        Tensor inY = ys.sub(cy).abs().lt(ch / 2.0), inX = xs.sub(cx).abs().lt(cw / 2.0);
        Tensor keep = inY.to(DType.FLOAT32).mul(inX.to(DType.FLOAT32)).rsub(1);                        // (B, 1, H, W)
        return x.mul(keep);
    }
}
