package org.panamasd.service;

import java.time.Duration;

/** A validated generation request: what {@link RequestParser} accepted. {@code scheduler} null: the model's own; {@code loras}: adapter name -> scale. */
public record GenerationParameters(String prompt, String negativePrompt, int steps, double guidance, long seed, int width, int height,
                                   String scheduler, Duration deadline, java.util.SortedMap<String, Double> loras) {

    public GenerationParameters {
        loras = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(loras == null ? java.util.Map.of() : loras));
    }

    BatchKey batchKey() {
        return new BatchKey(steps, height, width, guidance, scheduler, loras);
    }
}
