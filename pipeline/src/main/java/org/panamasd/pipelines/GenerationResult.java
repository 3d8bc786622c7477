package org.panamasd.pipelines;

import org.panamasd.Tensor;

/** The final latents, the VAE's decoding (about [-1, 1]) and the image in [0, 1], NCHW; in the caller's scope. */
public record GenerationResult(Tensor latents, Tensor decoded, Tensor image) {}
