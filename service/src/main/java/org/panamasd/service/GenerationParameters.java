package org.panamasd.service;

import java.time.Duration;

/** A validated generation request: what {@link RequestParser} accepted. {@code scheduler} null: the model's own. */
public record GenerationParameters(String prompt, String negativePrompt, int steps, double guidance, long seed, int width, int height,
                                   String scheduler, Duration deadline) {

    BatchKey batchKey() {
        return new BatchKey(steps, height, width, guidance, scheduler);
    }
}
