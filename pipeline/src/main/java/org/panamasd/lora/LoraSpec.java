package org.panamasd.lora;

import java.nio.file.Path;

/** A LoRA as a user names one: {@code FILE} or {@code FILE:SCALE} (the scale defaults to 1). */
public record LoraSpec(Path file, double scale) {

    public static LoraSpec parse(String text) {
        int colon = text.lastIndexOf(':');
        if (colon > 0) {
            String tail = text.substring(colon + 1);
            try {
                double scale = Double.parseDouble(tail);
                if (!Double.isFinite(scale)) throw new IllegalArgumentException("LoRA scale must be finite, got '" + tail + "' in '" + text + "'");
                return new LoraSpec(Path.of(text.substring(0, colon)), scale);
            } catch (NumberFormatException notAScale) {
                // a ':' inside the path: the whole text is the file
            }
        }
        return new LoraSpec(Path.of(text), 1.0);
    }
}
