package org.panamasd.service;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.panamasd.lora.LoraAdapter;
import org.panamasd.lora.LoraFusion;

/**
 * The LoRA adapters a service may apply (every {@code *.safetensors} of the directory it was given, named by
 * file stem; requests name them, never a path), and which of them are fused into the shared model now. The
 * model's weights are shared by every worker, so the fused set changes only when no worker is inside a batch: a
 * worker {@link #hold}s the set its batch needs (batches are formed per set), waiting while others run another.
 */
final class ServiceAdapters implements AutoCloseable {
    static final int MAX_ADAPTERS = 64, MAX_PER_REQUEST = 4;
    static final double MAX_SCALE = 4;

    private final Map<String, Map<String, org.panamasd.Tensor>> weights;
    private final Map<String, LoraAdapter> adapters = new TreeMap<>();
    private SortedMap<String, Double> fusedSet = new TreeMap<>();
    private LoraFusion.FusedLora fused;
    private int inside;

    ServiceAdapters(Path directory, Map<String, Map<String, org.panamasd.Tensor>> weights) {
        this.weights = weights;
        if (directory == null) return;
        if (!Files.isDirectory(directory)) throw new IllegalArgumentException("--lora-dir: no directory " + directory);
        List<Path> files;
        try (Stream<Path> list = Files.list(directory)) {
            files = list.filter(f -> f.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + directory, e);
        }
        if (files.size() > MAX_ADAPTERS) throw new IllegalArgumentException(directory + " holds " + files.size() + " adapters, more than " + MAX_ADAPTERS);
        try {
            for (Path file : files) {
                LoraAdapter adapter = LoraAdapter.load(file);
                adapters.put(file.getFileName().toString().replaceFirst("\\.safetensors$", ""), adapter);
                try (var check = LoraFusion.fuse(weights, List.of(new LoraFusion.Scaled(adapter, 1)))) {
                    // fits the model: checked once at the start, so a request cannot be the first to find out
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The names requests may use. */
    java.util.Set<String> names() {
        return adapters.keySet();
    }

    boolean has(String name) {
        return adapters.containsKey(name);
    }

    /** Until the returned handle is closed, {@code set} (name -> scale) is what the model computes with. */
    synchronized AutoCloseable hold(SortedMap<String, Double> set) throws InterruptedException {
        while (!set.equals(fusedSet) && inside > 0) wait();
        if (!set.equals(fusedSet)) {
            if (fused != null) fused.close();
            fused = null;
            fusedSet = new TreeMap<>();
            List<LoraFusion.Scaled> scaled = new ArrayList<>();
            set.forEach((name, scale) -> scaled.add(new LoraFusion.Scaled(adapters.get(name), scale)));
            fused = LoraFusion.fuse(weights, scaled);
            fusedSet = new TreeMap<>(set);
        }
        inside++;
        return this::release;
    }

    private synchronized void release() {
        inside--;
        notifyAll();
    }

    /** Unfuses (the model's weights are the files' again) and closes the adapters. */
    @Override
    public synchronized void close() {
        if (fused != null) fused.close();
        fused = null;
        adapters.values().forEach(LoraAdapter::close);
        adapters.clear();
    }
}
