package org.panamasd.pipelines;

import org.panamasd.Functional;
import org.panamasd.Tensor;

/**
 * What inpainting starts from, as diffusers' StableDiffusionInpaintPipeline prepares it: the mask binarised at
 * 0.5 (1 = repaint; a soft mask is not a weight), the masked image (the image where the mask is 0, and 0, mid
 * grey, where it is 1), the image latents (a sample, scaled; drawn only where used), the mask at latent size
 * (nearest: the top-left pixel of each cell), the masked image's latents (a sample, scaled), the noise drawn for
 * the start (a 4-channel UNet's blend re-noises the image latents with it) and the latents the loop starts from.
 */
public record InpaintingInputs(Tensor maskCondition, Tensor maskedImage, Tensor imageLatents, Tensor maskLatents, Tensor maskedImageLatents,
                               Tensor startNoise, Tensor initialLatents) {

    /**
     * The mask as the reference's mask processor makes it (no normalisation, binarised, grey): (B or 1, 1, H, W)
     * in [0, 1] of the image's size, floored to the VAE's factor as the image is. Anything else is refused,
     * naming the shapes.
     */
    public static Tensor maskCondition(Tensor mask, long[] imageShape, int vaeScaleFactor) {
        long[] m = mask.shape();
        if (m.length != 4 || m[1] != 1)
            throw new IllegalArgumentException("a mask is (B, 1, H, W) with one channel (1 = repaint), got " + java.util.Arrays.toString(m));
        if (m[2] != imageShape[2] || m[3] != imageShape[3])
            throw new IllegalArgumentException("the mask is " + m[3] + "x" + m[2] + " but the image is " + imageShape[3] + "x" + imageShape[2]
                    + " (width x height): give a mask of the image's size");
        if (m[0] != 1 && m[0] != imageShape[0])
            throw new IllegalArgumentException("the mask's batch is " + m[0] + " but the image's is " + imageShape[0] + " (give 1 mask or one per image)");
        long height = m[2] - m[2] % vaeScaleFactor, width = m[3] - m[3] % vaeScaleFactor;
        Tensor sized = height == m[2] && width == m[3] ? mask : Functional.interpolate(mask, height, width, Functional.Interpolation.NEAREST, null);
        return sized.ge(0.5).to(mask.dtype());
    }

    /** The masked image: the preprocessed image (in [-1, 1]) kept where the mask is below 0.5, 0 elsewhere. */
    public static Tensor maskedImage(Tensor preprocessed, Tensor maskCondition) {
        return preprocessed.mul(maskCondition.lt(0.5).to(preprocessed.dtype()));
    }

    /** The mask at the latents' size, nearest, as F.interpolate's default mode picks it. */
    public static Tensor maskLatents(Tensor maskCondition, long latentHeight, long latentWidth) {
        return Functional.interpolate(maskCondition, latentHeight, latentWidth, Functional.Interpolation.NEAREST, null);
    }
}
