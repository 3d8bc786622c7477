package org.panamasd.nn;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

/** Building a model from a checkpoint file: every parameter taken by key, none left over, nothing leaked on failure. */
public final class Checkpoints {

    /** The weights file of a model directory, which must exist. */
    public static Path weightsFile(Path directory, String name) {
        Path file = directory.resolve(name);
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(directory + " has no " + name);
        return file;
    }

    /**
     * Builds a model over the parameters of {@code safetensors}; fails (freeing what was loaded) if the model
     * does not take every parameter of the file or the construction fails.
     */
    public static <M> M load(Path safetensors, Function<StateDict, M> build) {
        return load(safetensors, org.panamasd.Device.CPU, build);
    }

    /** As {@link #load(Path, Function)}, with the parameters on {@code device}. */
    public static <M> M load(Path safetensors, org.panamasd.Device device, Function<StateDict, M> build) {
        return load(safetensors, device, org.panamasd.DType.FLOAT32, build);
    }

    /** As {@link #load(Path, Function)}, with the parameters on {@code device}, floating-point ones in {@code dtype}. */
    public static <M> M load(Path safetensors, org.panamasd.Device device, org.panamasd.DType dtype, Function<StateDict, M> build) {
        return load(safetensors, device, dtype, WeightFormat.DENSE, build);
    }

    /** As {@link #load(Path, org.panamasd.Device, org.panamasd.DType, Function)}, with linear and convolution weights kept in {@code format}. */
    public static <M> M load(Path safetensors, org.panamasd.Device device, org.panamasd.DType dtype, WeightFormat format, Function<StateDict, M> build) {
        StateDict state = StateDict.open(safetensors, device, dtype, format);
        try {
            M model = build.apply(state);
            state.checkAllUsed();
            return model;
        } catch (RuntimeException e) {
            state.close();
            throw e;
        }
    }

    /** Builds a model over fresh parameters drawn with {@code seed}. */
    public static <M> M initialize(long seed, Function<RandomWeights, M> build) {
        RandomWeights weights = new RandomWeights(seed);
        try {
            return build.apply(weights);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private Checkpoints() {}
}
