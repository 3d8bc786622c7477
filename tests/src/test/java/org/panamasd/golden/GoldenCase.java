package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;

/** One reference case directory: case.json, config.json and the input / output tensors. */
public final class GoldenCase {
    private final Path dir;
    private final JsonNode description;
    private SafeTensors inputs, outputs;

    GoldenCase(Path dir) {
        this.dir = dir;
        try {
            // written by Python's json module, which writes -Infinity and NaN as in configs
            this.description = DiffusersConfig.readJson(dir.resolve("case.json"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve("case.json"), e);
        }
    }

    public String name() {
        return dir.getFileName().toString();
    }

    public Path dir() {
        return dir;
    }

    public String kind() {
        return description.path("kind").asText("(no kind)");
    }

    public JsonNode json() {
        return description;
    }

    /** A config stored inside case.json (e.g. runs.cfg.scheduler_config), read as config files are. */
    public DiffusersConfig config(JsonNode node, String what) {
        return DiffusersConfig.of(node, name() + "/case.json " + what);
    }

    public double atol() {
        return description.path("tolerance").path("atol").asDouble(0);
    }

    public double rtol() {
        return description.path("tolerance").path("rtol").asDouble(0);
    }

    public Path config() {
        return dir.resolve("config.json");
    }

    public SafeTensors inputs() {
        if (inputs == null) inputs = SafeTensors.open(dir.resolve("inputs.safetensors"));
        return inputs;
    }

    public SafeTensors outputs() {
        if (outputs == null) outputs = SafeTensors.open(dir.resolve("outputs.safetensors"));
        return outputs;
    }

    public boolean hasInputs() {
        return Files.exists(dir.resolve("inputs.safetensors"));
    }
}
