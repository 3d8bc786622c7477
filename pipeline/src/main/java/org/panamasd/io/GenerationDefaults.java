package org.panamasd.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How a model directory wants to be sampled when the user does not say: steps, guidance, size and the PNG's
 * upscaling, from {@code panama-sd.json} beside {@code model_index.json} (diffusers ignores the file).
 * A Turbo student samples in one step without guidance. Shared by the command line and the service.
 */
public record GenerationDefaults(int steps, double guidance, int height, int width, int upscale) {
    public static final String FILE = "panama-sd.json";
    /** The Fashion-MNIST teacher: guided DDIM at the 32-pixel size it was trained at, enlarged to look at. */
    public static final String TEACHER_JSON = """
            {"num_inference_steps": 25, "guidance_scale": 3.0, "height": 32, "width": 32, "upscale": 8}
            """;
    public static final String TURBO_JSON = """
            {"num_inference_steps": 1, "guidance_scale": 0.0, "height": 32, "width": 32, "upscale": 8}
            """;

    public static GenerationDefaults of(Path model, int steps, double guidance, int size) {
        Path file = model.resolve(FILE);
        if (!Files.isRegularFile(file)) return new GenerationDefaults(steps, guidance, size, size, 1);
        try {
            JsonNode n = new ObjectMapper().readTree(file.toFile());
            return new GenerationDefaults(n.path("num_inference_steps").asInt(steps), n.path("guidance_scale").asDouble(guidance),
                    n.path("height").asInt(size), n.path("width").asInt(size), n.path("upscale").asInt(1));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
