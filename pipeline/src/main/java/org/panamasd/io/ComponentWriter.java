package org.panamasd.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * Writes one component of a diffusers / transformers directory: its config (JSON, the reference's field
 * names) and its weights (safetensors, the reference's keys), each written aside and moved into place.
 * Weights may be stored in float16 to halve the files; loaders compute in float32 (as diffusers does when no
 * torch_dtype is given).
 */
public final class ComponentWriter {
    private ComponentWriter() {}

    public static void write(Path component, String configName, String configJson, String weightsName, Map<String, Tensor> weights,
                             DType storage, Map<String, String> metadata) {
        try {
            Files.createDirectories(component);
            writeText(component.resolve(configName), configJson);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + component, e);
        }
        try (Scope scope = Scope.open()) {
            Map<String, Tensor> stored = new LinkedHashMap<>();
            weights.forEach((k, v) -> stored.put(k, v.dtype().isFloatingPoint() && v.dtype() != storage ? v.detach().to(storage) : v));
            SafeTensorsWriter.write(stored, metadata, component.resolve(weightsName));
        }
    }

    /** Text written beside the target and moved into place. */
    public static void writeText(Path file, String text) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        AtomicFile.write(file, temporary -> Files.writeString(temporary, text));
    }
}
