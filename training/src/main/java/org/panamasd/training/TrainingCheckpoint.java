package org.panamasd.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.channels.FileChannel;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
 * A save survives a crash (a killed process, a power loss) at any point: it is written in full into a fresh
 * directory and forced to disk, then swapped in by renames, each forced to disk; the previous whole
 * checkpoint is deleted only once the new one is in place. At every point {@link #latest} finds a whole
 * checkpoint ({@code DIR}, or {@code DIR.old} between the renames), and the next save cleans what a crashed one
 * left ({@code DIR.tmp*}). Weights that are not finite are never saved.
 */
public final class TrainingCheckpoint {
    private TrainingCheckpoint() {}

    public record State(long step, long seed) {}

    /** The steps of a save, in order: where a test-only crash point may stop it (see {@link #crashPoint}). */
    public enum SaveStep { WRITTEN, PREVIOUS_SET_ASIDE, NEW_IN_PLACE, PREVIOUS_DELETED }

    /** Test-only: called after each step of a save (null: nothing); the crash tests halt the process there. */
    public static volatile java.util.function.Consumer<SaveStep> crashPoint;

    public static void save(Path dir, State state, Map<String, Map<String, Tensor>> weights, Map<String, Optimizer> optimizers) {
        requireFinite(dir, state, weights);
        Path target = dir.toAbsolutePath();
        Path parent = target.getParent();
        Path old = target.resolveSibling(target.getFileName() + ".old");
        try {
            Files.createDirectories(parent);
            deleteLeftovers(target);
            Path fresh = Files.createTempDirectory(parent, target.getFileName() + ".tmp");
            try {
                for (var group : weights.entrySet())
                    SafeTensorsWriter.write(group.getValue(), Map.of("step", "" + state.step()), fresh.resolve(group.getKey() + ".safetensors"));
                for (var o : optimizers.entrySet()) o.getValue().save(fresh.resolve(o.getKey() + ".optimizer.pt"));
                ObjectNode json = new ObjectMapper().createObjectNode().put("step", state.step()).put("seed", state.seed());
                Files.writeString(fresh.resolve("state.json"), json.toPrettyString());  // written last: its presence marks a whole checkpoint
                forceTree(fresh);
                reached(SaveStep.WRITTEN);
                if (isWhole(target)) {  // set the current one aside; DIR.old then holds no other whole checkpoint
                    deleteTree(old);
                    Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
                    force(parent);
                } else {  // a crash between the renames left the only whole checkpoint at DIR.old: keep it until the new one is in place
                    deleteTree(target);
                }
                reached(SaveStep.PREVIOUS_SET_ASIDE);
                Files.move(fresh, target, StandardCopyOption.ATOMIC_MOVE);
                force(parent);
                reached(SaveStep.NEW_IN_PLACE);
                deleteTree(old);
                force(parent);
                reached(SaveStep.PREVIOUS_DELETED);
            } finally {
                deleteTree(fresh);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the checkpoint " + dir, e);
        }
    }

    private static void reached(SaveStep step) {
        var hook = crashPoint;
        if (hook != null) hook.accept(step);
    }

    /** Refuses weights with a NaN or an infinity: a checkpoint is what a diverged run is told to resume from. */
    private static void requireFinite(Path dir, State state, Map<String, Map<String, Tensor>> weights) {
        for (var group : weights.entrySet())
            for (var w : group.getValue().entrySet()) {
                if (!w.getValue().dtype().isFloatingPoint() || w.getValue().numel() == 0) continue;  // counters and empty tensors hold no NaN
                double largest;
                try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
                    largest = w.getValue().detach().abs().max().item();  // NaN and infinity both survive max(|w|)
                }
                if (!Double.isFinite(largest))
                    throw new ArithmeticException("checkpoint " + dir + " not saved at step " + state.step() + ": '" + w.getKey() + "' of "
                            + group.getKey() + " holds a " + (Double.isNaN(largest) ? "NaN" : "infinity") + " (the previous checkpoint is kept)");
            }
    }

    private static boolean isWhole(Path dir) {
        return Files.isRegularFile(dir.resolve("state.json"));
    }

    /** The temporary directories of saves that crashed before their renames. */
    private static void deleteLeftovers(Path target) throws IOException {
        String prefix = target.getFileName() + ".tmp";
        try (Stream<Path> siblings = Files.list(target.getParent())) {
            for (Path p : siblings.filter(p -> p.getFileName().toString().startsWith(prefix)).toList()) deleteTree(p);
        }
    }

    /** Forces every file of a directory, then the directory itself, to disk. */
    private static void forceTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) force(f);
        }
        force(dir);
    }

    /** fsync of a file, or of a directory (its entries: a rename is durable only once its directory is). */
    private static void force(Path path) throws IOException {
        boolean directory = Files.isDirectory(path);
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            if (!directory) throw e;  // some file systems refuse to open a directory: nothing to force then
        }
    }

    /** The whole checkpoint at {@code dir}, or the one a save interrupted between its renames left at DIR.old; null if none. */
    public static Path latest(Path dir) {
        Path old = dir.resolveSibling(dir.getFileName() + ".old");
        if (isWhole(dir)) return dir;
        if (isWhole(old)) return old;
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
