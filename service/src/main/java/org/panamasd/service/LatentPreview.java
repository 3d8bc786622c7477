package org.panamasd.service;

import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.ImageFiles;
import org.panamasd.io.ImageGrid;

/**
 * A small picture of a request's latents during denoising: their first three channels as RGB, each
 * normalised to [0, 1], enlarged to about {@link #SIDE} pixels. A rough look, not a decoding: it costs no VAE pass, so it
 * can be sent at every step.
 */
final class LatentPreview {
    static final int SIDE = 64;

    /** {@code latents}: one row, (1, C, h, w). */
    static byte[] png(Tensor latents) {
        try (Scope scope = Scope.open()) {
            Tensor rgb = latents.size(1) >= 3 ? latents.narrow(1, 0, 3) : Tensor.cat(1, latents, latents, latents).narrow(1, 0, 3);
            long[] spatial = {2, 3};
            // mean +- 2 std per channel to [0, 1]: latents have no fixed range, and one outlier must not grey the rest
            Tensor scaled = rgb.sub(rgb.mean(spatial, true)).div(rgb.std(spatial, 0, true).mul(4).add(1e-6)).add(0.5).clamp(0, 1);
            long factor = Math.max(1, SIDE / Math.max(rgb.size(2), rgb.size(3)));
            return ImageFiles.pngBytes(ImageGrid.enlarge(scaled, factor));
        }
    }

    private LatentPreview() {}
}
