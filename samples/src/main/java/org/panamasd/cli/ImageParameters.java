package org.panamasd.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What made an image, as PNG text: one keyword per setting (prompt, negative_prompt, seed, steps, guidance,
 * scheduler, model, ...) for tools that read keys, and the A1111-style {@code parameters} text that Stable
 * Diffusion web UIs and their image browsers parse. {@code strength} is null for text to image; a batch of
 * {@code batch} images used seeds {@code seed .. seed + batch - 1}; {@code extra} holds what else shaped the image
 * (LoRA adapters, the inpainting mask, the ControlNet), by keyword, in the order given.
 */
record ImageParameters(String prompt, String negativePrompt, long seed, int steps, double guidance, String scheduler, String model,
                       int width, int height, int batch, Double strength, Map<String, String> extra) {

    Map<String, String> pngText() {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("prompt", prompt);
        text.put("negative_prompt", negativePrompt == null ? "" : negativePrompt);
        text.put("seed", Long.toString(seed));
        text.put("steps", Integer.toString(steps));
        text.put("guidance", Double.toString(guidance));
        text.put("scheduler", scheduler);
        text.put("model", model);
        text.put("size", width + "x" + height);
        if (batch > 1) text.put("batch", batch + " (seeds " + seed + ".." + (seed + batch - 1) + ", row by row)");
        if (strength != null) text.put("strength", Double.toString(strength));
        text.putAll(extra);
        text.put("software", "panama-sd " + Version.number());
        text.put("parameters", a1111());
        return text;
    }

    /** The web UI's layout: the prompt, "Negative prompt: ...", then one line of "Key: value" pairs. */
    String a1111() {
        StringBuilder s = new StringBuilder(prompt);
        if (negativePrompt != null && !negativePrompt.isEmpty()) s.append("\nNegative prompt: ").append(negativePrompt);
        s.append("\nSteps: ").append(steps).append(", Sampler: ").append(scheduler).append(", CFG scale: ").append(guidance)
                .append(", Seed: ").append(seed).append(", Size: ").append(width).append('x').append(height).append(", Model: ").append(model);
        if (strength != null) s.append(", Denoising strength: ").append(strength);
        if (batch > 1) s.append(", Batch size: ").append(batch);
        extra.forEach((key, value) -> s.append(", ").append(key).append(": ").append(value));
        return s.append(", Version: panama-sd ").append(Version.number()).toString();
    }
}
