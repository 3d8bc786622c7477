package org.panamasd.nn;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;

/**
 * Parameters read from a safetensors checkpoint by the reference's state-dict keys. On the CPU tensors are views
 * of the mapped file (no copy; float16 / bfloat16 ones are converted to float32 copies), on another device copies
 * there; they belong to {@link #scope()}, a detached scope the model closes. A missing key or a
 * wrong shape fails naming the file, the key and both shapes; {@link #checkAllUsed()} reports keys the
 * model did not take.
 */
public final class StateDict implements ParameterStore {
    private final SafeTensors file;
    private final Device device;
    private final Scope scope = Scope.detached();
    private final Set<String> used = new LinkedHashSet<>();
    private final java.util.Map<String, Tensor> loaded = new java.util.LinkedHashMap<>();

    public StateDict(SafeTensors file) {
        this(file, Device.CPU);
    }

    public StateDict(SafeTensors file, Device device) {
        this.file = file;
        this.device = device;
    }

    public static StateDict open(Path safetensors) {
        return open(safetensors, Device.CPU);
    }

    /** The checkpoint's parameters on {@code device}. */
    public static StateDict open(Path safetensors, Device device) {
        return new StateDict(SafeTensors.open(safetensors), device);
    }

    @Override
    public Tensor get(String key, long... shape) {
        if (!file.contains(key)) throw new IllegalArgumentException(file.path() + " has no parameter '" + key + "' (shape " + Arrays.toString(shape) + ")");
        long[] actual = file.entry(key).shape();
        if (!Arrays.equals(actual, shape))
            throw new IllegalArgumentException(file.path() + ": parameter '" + key + "' has shape " + Arrays.toString(actual)
                    + ", the model expects " + Arrays.toString(shape));
        used.add(key);
        try (Scope load = Scope.open()) {
            Tensor stored = file.tensor(key);
            // half-precision checkpoints are computed in float32 (CPU kernels are float32), as diffusers does without torch_dtype
            boolean half = stored.dtype() == org.panamasd.DType.FLOAT16 || stored.dtype() == org.panamasd.DType.BFLOAT16;
            Tensor converted = half ? stored.to(org.panamasd.DType.FLOAT32) : stored;
            Tensor parameter = (device.equals(Device.CPU) ? converted : converted.to(device)).moveTo(scope);
            loaded.put(key, parameter);
            return parameter;
        }
    }

    @Override
    public java.util.Map<String, Tensor> parameters() {
        return java.util.Collections.unmodifiableMap(loaded);
    }

    public boolean contains(String key) {
        return file.contains(key);
    }

    /** The shape a parameter has in the file. */
    public long[] shape(String key) {
        return file.entry(key).shape();
    }

    /** Fails listing the checkpoint's keys that no module took (a config that does not match the weights). */
    public void checkAllUsed() {
        Set<String> unused = new TreeSet<>(file.keys());
        unused.removeAll(used);
        if (!unused.isEmpty())
            throw new IllegalArgumentException(file.path() + " has " + unused.size() + " parameter(s) the model does not use, e.g. "
                    + unused.stream().limit(5).toList());
    }

    /** The scope that owns the loaded parameters. */
    public Scope scope() {
        return scope;
    }

    @Override
    public void close() {
        scope.close();
    }
}
