package org.panamasd.pipelines;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A pipeline's models as they load, one after another: if a later one, or building the pipeline, fails, those
 * loaded so far are closed (a close that fails too is kept as suppressed by the failure), so a bad directory or
 * file leaks no weights. The SD and SDXL pipelines load through it, from a directory and from a single file.
 */
final class LoadedComponents implements AutoCloseable {
    private final List<AutoCloseable> loaded = new ArrayList<>();
    private boolean handedOver;

    /** Already loaded models (a single file's), closed if building the pipeline fails. */
    static LoadedComponents of(AutoCloseable... models) {
        LoadedComponents c = new LoadedComponents();
        for (AutoCloseable m : models) c.keep(m);
        return c;
    }

    /** A diffusers pipeline directory's model_index.json; a directory without one fails naming it. */
    static Path modelIndex(Path directory) {
        Path index = directory.resolve("model_index.json");
        if (!Files.isRegularFile(index)) throw new IllegalArgumentException(directory + " is not a diffusers pipeline directory (no model_index.json)");
        return index;
    }

    /** {@code component}, kept to be closed should the load fail later. */
    <T extends AutoCloseable> T keep(T component) {
        loaded.add(component);
        return component;
    }

    /** The pipeline built from the loaded models, which it owns from now on: this no longer closes them. */
    <P> P handOver(P pipeline) {
        handedOver = true;
        return pipeline;
    }

    /** Closes the loaded models, last first, unless a pipeline took them. */
    @Override
    public void close() {
        if (handedOver) return;
        IllegalStateException failures = null;
        for (int i = loaded.size() - 1; i >= 0; i--) {
            try {
                loaded.get(i).close();
            } catch (Exception e) {
                if (failures == null) failures = new IllegalStateException("closing the models of a load that failed");
                failures.addSuppressed(e);
            }
        }
        if (failures != null) throw failures;
    }
}
