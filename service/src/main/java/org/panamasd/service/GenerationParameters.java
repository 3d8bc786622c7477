package org.panamasd.service;

import java.time.Duration;

/** A validated generation request: what {@link RequestParser} accepted. {@code scheduler} null: the model's own; {@code loras}: adapter name -> scale; {@code inpaint}, {@code control}: null when not asked for. */
public record GenerationParameters(String prompt, String negativePrompt, int steps, double guidance, long seed, int width, int height,
                                   String scheduler, Duration deadline, java.util.SortedMap<String, Double> loras, InpaintInput inpaint, ControlInput control) {

    public GenerationParameters {
        loras = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(loras == null ? java.util.Map.of() : loras));
    }

    BatchKey batchKey() {
        // an inpainting or ControlNet job runs alone: its images are its own (a fresh object is equal to no other key's)
        return new BatchKey(steps, height, width, guidance, scheduler, loras, inpaint == null && control == null ? null : new Object());
    }
}
