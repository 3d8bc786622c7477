package org.panamasd.training.features;

import java.util.ArrayList;
import java.util.List;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Tensor;

/**
 * DINO's multi-crop views (Caron et al. 2021, sec. 3.1; Caron et al. 2020): {@code globalViews} random resized
 * crops covering {@code globalScale} of the image at full size, and {@code localViews} smaller ones covering
 * {@code localScale} at {@code localSide} pixels; each flipped left-right with probability 1/2 and jittered in
 * brightness and contrast per sample (the images are grey, so colour jitter is those two). The teacher sees the
 * global views only, the student all: local-to-global correspondence is what the features learn.
 */
public record MultiCrop(int globalViews, double[] globalScale, int localViews, double[] localScale, int localSide) {

    public MultiCrop {
        if (globalViews < 1 || localViews < 0) throw new IllegalArgumentException("multi-crop needs >= 1 global view and >= 0 local views");
        if (globalViews + localViews < 2) throw new IllegalArgumentException("multi-crop needs at least two views");
    }

    /** DINO's defaults scaled to 32x32 images: 2 global views (40-100 % of the area), 6 local ones at 16x16 (5-40 %). */
    public static MultiCrop defaults() {
        return new MultiCrop(2, new double[] {0.4, 1.0}, 6, new double[] {0.05, 0.4}, 16);
    }

    /** images (B, C, H, W) in [-1, 1] -> the global views (B, C, H, W) first, then the local ones (B, C, s, s). */
    public List<Tensor> views(Tensor images, Generator g) {
        List<Tensor> views = new ArrayList<>();
        for (int v = 0; v < globalViews; v++) views.add(view(images, globalScale, images.size(2), g));
        for (int v = 0; v < localViews; v++) views.add(view(images, localScale, localSide, g));
        return views;
    }

    private static Tensor view(Tensor images, double[] scale, long side, Generator g) {
        long b = images.size(0), h = images.size(2), w = images.size(3);
        double[] r = Tensor.rand(g, b, 5).toDoubleArray();
        Tensor[] crops = new Tensor[(int) b];
        for (int i = 0; i < b; i++) {
            double area = h * w * (scale[0] + (scale[1] - scale[0]) * r[5 * i]);
            double aspect = Math.exp(Math.log(3.0 / 4) + (Math.log(4.0 / 3) - Math.log(3.0 / 4)) * r[5 * i + 1]);
            long ch = Math.clamp(Math.round(Math.sqrt(area / aspect)), 1, h), cw = Math.clamp(Math.round(Math.sqrt(area * aspect)), 1, w);
            long top = Math.min(h - ch, (long) (r[5 * i + 2] * (h - ch + 1))), left = Math.min(w - cw, (long) (r[5 * i + 3] * (w - cw + 1)));
            Tensor crop = Functional.interpolate(images.narrow(0, i, 1).narrow(2, top, ch).narrow(3, left, cw), side, side,
                    Functional.Interpolation.BILINEAR, false);
            crops[i] = r[5 * i + 4] < 0.5 ? flipLeftRight(crop) : crop;
        }
        return jitter(Tensor.cat(0, crops), g);
    }

    private static Tensor flipLeftRight(Tensor x) {
        long w = x.size(3);
        return x.indexSelect(3, Tensor.arange(w - 1, -1, -1, DType.INT64));
    }

    /** Brightness +-0.4 and contrast x [0.6, 1.4] per sample, clamped to the image range. */
    private static Tensor jitter(Tensor x, Generator g) {
        long[] perSample = {x.size(0), 1, 1, 1};
        Tensor bright = x.add(Tensor.rand(g, perSample).sub(0.5).mul(0.8));
        Tensor mean = bright.mean(new long[] {1, 2, 3}, true);
        return bright.sub(mean).mul(Tensor.rand(g, perSample).mul(0.8).add(0.6)).add(mean).clamp(-1, 1);
    }
}
