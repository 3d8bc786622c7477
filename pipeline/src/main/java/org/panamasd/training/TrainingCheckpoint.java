package org.panamasd.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;
import org.panamasd.Autograd;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.optim.Optimizer;

/**
 * A resumable training state in one directory: weight groups (model, EMA, ...) as safetensors, optimizer
 * states, and {@code state.json} (the step, the seed: with {@link StepSeeds} that is the whole RNG state).
 * A save is atomic: it is written in full into a fresh directory, then swapped in by renames; a process
 * killed at any point leaves the previous checkpoint (as {@code DIR} or {@code DIR.old}) whole, and
 * {@link #latest} finds it.
 */
public final class TrainingCheckpoint {
    private TrainingCheckpoint() {}

    public record State(long step, long seed) {}

    public static void save(Path dir, State state, Map<String, Map<String, Tensor>> weights, Map<String, Optimizer> optimizers) {
        Path target = dir.toAbsolutePath();
        Path old = target.resolveSibling(target.getFileName() + ".old");
        try {
            Files.createDirectories(target.getParent());
            Path fresh = Files.createTempDirectory(target.getParent(), target.getFileName() + ".tmp");
            try {
                for (var group : weights.entrySet())
                    SafeTensorsWriter.write(group.getValue(), Map.of("step", "" + state.step()), fresh.resolve(group.getKey() + ".safetensors"));
                for (var o : optimizers.entrySet()) o.getValue().save(fresh.resolve(o.getKey() + ".optimizer.pt"));
                ObjectNode json = new ObjectMapper().createObjectNode().put("step", state.step()).put("seed", state.seed());
                Files.writeString(fresh.resolve("state.json"), json.toPrettyString());  // written last: its presence marks a whole checkpoint
                deleteTree(old);
                if (Files.exists(target)) Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
                Files.move(fresh, target, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(old);
            } finally {
                deleteTree(fresh);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the checkpoint " + dir, e);
        }
    }

    /** The whole checkpoint at {@code dir}, or the one a save interrupted between its renames left at DIR.old; null if none. */
    public static Path latest(Path dir) {
        Path old = dir.resolveSibling(dir.getFileName() + ".old");
        if (Files.isRegularFile(dir.resolve("state.json"))) return dir;
        if (Files.isRegularFile(old.resolve("state.json"))) return old;
        return null;
    }

    /** Reads the checkpoint into the given (already built) tensors and optimizers; returns its state. */
    public static State load(Path dir, Map<String, Map<String, Tensor>> weights, Map<String, Optimizer> optimizers) {
        try {
            var json = new ObjectMapper().readTree(dir.resolve("state.json").toFile());
            for (var group : weights.entrySet()) {
                Path file = dir.resolve(group.getKey() + ".safetensors");
                try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
                    SafeTensors st = SafeTensors.open(file);
                    for (var p : group.getValue().entrySet()) {
                        if (!st.contains(p.getKey())) throw new IllegalArgumentException(file + " has no '" + p.getKey() + "'");
                        Tensor saved = st.tensor(p.getKey());
                        if (!java.util.Arrays.equals(saved.shape(), p.getValue().shape()))
                            throw new IllegalArgumentException(file + ": '" + p.getKey() + "' has shape " + java.util.Arrays.toString(saved.shape())
                                    + ", the model has " + java.util.Arrays.toString(p.getValue().shape()));
                        p.getValue().copyFrom(saved);
                    }
                }
            }
            for (var o : optimizers.entrySet()) o.getValue().load(dir.resolve(o.getKey() + ".optimizer.pt"));
            return new State(json.path("step").asLong(), json.path("seed").asLong());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the checkpoint " + dir, e);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
