package org.panamasd.pipelines;

import org.panamasd.Tensor;

/**
 * One text-to-image request. {@code negativePrompt} null encodes the empty string; guidance applies only when
 * {@code guidanceScale > 1}; {@code latents} (unit noise, (B, 4, H/f, W/f)) may be null to draw them from the
 * seed; {@code guidanceRescale} 0 turns guidance rescale off.
 */
public record GenerationRequest(String prompt, String negativePrompt, int steps, double guidanceScale, double guidanceRescale,
                                int height, int width, long seed, Tensor latents) {

    public GenerationRequest {
        if (prompt == null) throw new IllegalArgumentException("prompt is null");
    }

    public static GenerationRequest of(String prompt, int steps, double guidanceScale, int height, int width, long seed) {
        return new GenerationRequest(prompt, null, steps, guidanceScale, 0, height, width, seed, null);
    }

    public GenerationRequest withLatents(Tensor initialLatents) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, guidanceRescale, height, width, seed, initialLatents);
    }

    public GenerationRequest withNegativePrompt(String negative) {
        return new GenerationRequest(prompt, negative, steps, guidanceScale, guidanceRescale, height, width, seed, latents);
    }
}
