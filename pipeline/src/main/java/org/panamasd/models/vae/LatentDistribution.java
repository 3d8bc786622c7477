package org.panamasd.models.vae;

import org.panamasd.Tensor;

/**
 * The encoder's diagonal Gaussian q(z | x) = N(mean, exp(logvar)), logvar clamped to [-30, 20] as the
 * reference does. {@link #sample} takes the standard-normal noise explicitly, so a seeded run reproduces.
 */
public record LatentDistribution(Tensor mean, Tensor logvar) {

    static LatentDistribution fromMoments(Tensor moments) {
        Tensor[] halves = moments.chunk(2, 1);
        return new LatentDistribution(halves[0], halves[1].clamp(-30, 20));
    }

    public Tensor std() {
        return logvar.mul(0.5).exp();
    }

    /** mean + std * noise. */
    public Tensor sample(Tensor noise) {
        return mean.add(std().mul(noise));
    }

    /** The mode (the mean). */
    public Tensor mode() {
        return mean;
    }
}
