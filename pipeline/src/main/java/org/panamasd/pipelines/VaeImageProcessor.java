package org.panamasd.pipelines;

import org.panamasd.Functional;
import org.panamasd.Tensor;

/**
 * What the reference's VaeImageProcessor.preprocess does to an image tensor (B, 3, H, W) before encoding:
 * height and width are floored to multiples of the VAE's scale factor (nearest-neighbour resize), and values
 * in [0, 1] are mapped to [-1, 1]; an image whose minimum is below 0 is taken as already in [-1, 1].
 */
public final class VaeImageProcessor {

    public static Tensor preprocess(Tensor image, int vaeScaleFactor) {
        long[] shape = image.shape();
        if (shape.length != 4 || shape[1] != 3)
            throw new IllegalArgumentException("an image is (B, 3, H, W), got " + java.util.Arrays.toString(shape));
        long height = shape[2] - shape[2] % vaeScaleFactor, width = shape[3] - shape[3] % vaeScaleFactor;
        if (height == 0 || width == 0)
            throw new IllegalArgumentException("the image " + shape[2] + "x" + shape[3] + " is smaller than the VAE's scale factor " + vaeScaleFactor);
        Tensor x = height == shape[2] && width == shape[3] ? image
                : Functional.interpolate(image, height, width, Functional.Interpolation.NEAREST, null);
        return x.min().item() < 0 ? x : x.mul(2).sub(1);
    }

    private VaeImageProcessor() {}
}
