package org.panamasd.nn;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;

/**
 * Parameters read from a safetensors checkpoint by the reference's state-dict keys, floating-point ones in the
 * compute dtype ({@link Precision}; float32 unless asked otherwise, as diffusers without torch_dtype). On the CPU
 * tensors stored in that dtype are views of the mapped file (no copy), others converted copies; on another device
 * copies there. They belong to {@link #scope()}, a detached scope the model closes. A missing key or a
 * wrong shape fails naming the file, the key and both shapes; {@link #checkAllUsed()} reports keys the
 * model did not take.
 */
public final class StateDict implements ParameterStore {
    private final SafeTensors file;
    private final Device device;
    private final DType dtype;
    private final Scope scope = Scope.detached();
    private final Set<String> used = new LinkedHashSet<>();  // file keys
    private final java.util.function.UnaryOperator<String> fileKey;
    private final java.util.Map<String, Tensor> loaded = new java.util.LinkedHashMap<>();

    public StateDict(SafeTensors file) {
        this(file, Device.CPU);
    }

    public StateDict(SafeTensors file, Device device) {
        this(file, device, DType.FLOAT32);
    }

    /** Floating-point parameters in {@code dtype} (float32, or bfloat16 for bfloat16 inference). */
    public StateDict(SafeTensors file, Device device, DType dtype) {
        this(file, device, dtype, java.util.function.UnaryOperator.identity());
    }

    /**
     * A model's parameters stored under other names ({@code fileKey}: the model's state-dict key -> the file's),
     * e.g. one component of an original-layout single file. A Linear weight (out, in) may be stored as a 1x1
     * conv kernel (out, in, 1, 1) and is then viewed as the former.
     */
    public StateDict(SafeTensors file, Device device, DType dtype, java.util.function.UnaryOperator<String> fileKey) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("a compute dtype must be floating point, not " + dtype);
        this.file = file;
        this.device = device;
        this.dtype = dtype;
        this.fileKey = fileKey;
    }

    public static StateDict open(Path safetensors) {
        return open(safetensors, Device.CPU);
    }

    /** The checkpoint's parameters on {@code device}. */
    public static StateDict open(Path safetensors, Device device) {
        return open(safetensors, device, DType.FLOAT32);
    }

    /** The checkpoint's parameters on {@code device}, floating-point ones in {@code dtype}. */
    public static StateDict open(Path safetensors, Device device, DType dtype) {
        return new StateDict(SafeTensors.open(safetensors), device, dtype);
    }

    @Override
    public Tensor get(String key, long... shape) {
        String inFile = fileKey.apply(key), named = inFile.equals(key) ? "'" + key + "'" : "'" + inFile + "' (the model's '" + key + "')";
        if (!file.contains(inFile)) throw new IllegalArgumentException(file.path() + " has no parameter " + named + " (shape " + Arrays.toString(shape) + ")");
        long[] actual = file.entry(inFile).shape();
        boolean linearAsConv = !inFile.equals(key) && shape.length == 2 && actual.length == 4 && actual[0] == shape[0] && actual[1] == shape[1] && actual[2] == 1 && actual[3] == 1;
        if (!Arrays.equals(actual, shape) && !linearAsConv)
            throw new IllegalArgumentException(file.path() + ": parameter " + named + " has shape " + Arrays.toString(actual)
                    + ", the model expects " + Arrays.toString(shape));
        used.add(inFile);
        try (Scope load = Scope.open()) {
            Tensor read = file.tensor(inFile);
            Tensor stored = linearAsConv ? read.reshape(shape) : read;
            // every floating-point parameter in the compute dtype, as diffusers' torch_dtype (float16 storage in float32 by default)
            Tensor converted = stored.dtype().isFloatingPoint() ? Precision.cast(stored, dtype) : stored;
            Tensor parameter = (device.equals(Device.CPU) ? converted : converted.to(device)).moveTo(scope);
            loaded.put(key, parameter);
            if (parameter != stored) stored.pageOut();  // read once and copied: its file pages need not stay resident
            return parameter;
        }
    }

    @Override
    public java.util.Map<String, Tensor> parameters() {
        return java.util.Collections.unmodifiableMap(loaded);
    }

    public boolean contains(String key) {
        return file.contains(fileKey.apply(key));
    }

    /** The shape a parameter has in the file. */
    public long[] shape(String key) {
        return file.entry(fileKey.apply(key)).shape();
    }

    /** The file's keys the model took so far. */
    public Set<String> usedFileKeys() {
        return java.util.Collections.unmodifiableSet(used);
    }

    /** Fails listing the checkpoint's keys that no module took (a config that does not match the weights). */
    public void checkAllUsed() {
        Set<String> unused = new TreeSet<>(file.keys());
        unused.removeAll(used);
        if (!unused.isEmpty())
            throw new IllegalArgumentException(file.path() + " has " + unused.size() + " parameter(s) the model does not use, e.g. "
                    + unused.stream().limit(5).toList());
    }

    /** The dtype of the floating-point parameters. */
    public DType dtype() {
        return dtype;
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
