package org.panamasd.pipelines;

import org.panamasd.Tensor;
import org.panamasd.models.controlnet.ControlNetModel;

/**
 * A ControlNet and what it is conditioned on, for one generation: the conditioning image (1, C, H, W) in [0, 1] at
 * the generated image's size (not normalised, as diffusers' control image processor leaves it), and the scale of
 * its residuals (diffusers' controlnet_conditioning_scale). The ControlNet runs on the same (guidance-doubled)
 * batch and text as the UNet, at every step.
 */
public record ControlNetConditioning(ControlNetModel model, Tensor image, double scale) {

    public ControlNetConditioning {
        if (!Double.isFinite(scale)) throw new IllegalArgumentException("the ControlNet's conditioning scale must be finite, got " + scale);
    }

    /** The image fits the ControlNet and the request, or an error naming both shapes. */
    void check(int height, int width) {
        long[] s = image.shape();
        if (s.length != 4 || s[0] != 1 || s[1] != model.conditioningChannels() || s[2] != height || s[3] != width)
            throw new IllegalArgumentException("the conditioning image is " + java.util.Arrays.toString(s) + "; this ControlNet takes (1, "
                    + model.conditioningChannels() + ", " + height + ", " + width + ") for a " + width + "x" + height + " image");
    }
}
