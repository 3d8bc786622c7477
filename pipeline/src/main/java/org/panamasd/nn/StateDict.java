package org.panamasd.nn;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;

/**
 * Parameters read from a safetensors checkpoint by the reference's state-dict keys, floating-point ones in the
 * compute dtype ({@link Precision}; float32 unless asked otherwise, as diffusers without torch_dtype). On the CPU
 * tensors stored in that dtype are views of the mapped file (no copy), others converted copies; on another device
 * copies there. With {@link WeightFormat#INT8} the linear and convolution layers' weights are int8 with a scale per
 * output channel instead ({@link #layerWeight}). They belong to {@link #scope()}, a detached scope the model closes. A missing key or a
 * wrong shape fails naming the file, the key and both shapes; {@link #checkAllUsed()} reports keys the
 * model did not take.
 */
public final class StateDict implements ParameterStore {
    private final SafeTensors file;
    private final Device device;
    private final DType dtype;
    private final WeightFormat format;
    private final Scope scope = Scope.detached();
    private final Set<String> used = new LinkedHashSet<>();  // file keys
    private final java.util.function.Function<String, Place> places;
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
     * Where a model's parameter lies in a file: under {@code key}; with {@code chunks > 1}, as chunk {@code chunk} of
     * that many equal ones along dim 0 of a tensor that packs several parameters (OpenCLIP's attention
     * {@code in_proj_weight}: q, k, v), read as a view of it; {@code transposed}, as the transpose of a 2-d tensor
     * (OpenCLIP's {@code text_projection}, applied as x P where a Linear computes x W^T).
     */
    public record Place(String key, int chunk, int chunks, boolean transposed) {
        public static Place of(String key) {
            return new Place(key, 0, 1, false);
        }

        /** The shape the file must hold for a parameter of {@code shape}. */
        long[] storedShape(long[] shape) {
            long[] stored = shape.clone();
            if (transposed && shape.length == 2) stored = new long[] {shape[1], shape[0]};
            if (chunks > 1) stored[0] *= chunks;
            return stored;
        }

        String describe() {
            return "'" + key + "'" + (chunks > 1 ? " (chunk " + chunk + " of " + chunks + " along dim 0)" : "") + (transposed ? " (transposed)" : "");
        }
    }

    /**
     * A model's parameters stored under other names ({@code fileKey}: the model's state-dict key -> the file's),
     * e.g. one component of an original-layout single file. A Linear weight (out, in) may be stored as a 1x1
     * conv kernel (out, in, 1, 1) and is then viewed as the former.
     */
    public StateDict(SafeTensors file, Device device, DType dtype, java.util.function.UnaryOperator<String> fileKey) {
        this(file, device, dtype, fileKey, WeightFormat.DENSE);
    }

    /** As the key-map constructor, with linear and convolution weights kept in {@code format}. */
    public StateDict(SafeTensors file, Device device, DType dtype, java.util.function.UnaryOperator<String> fileKey, WeightFormat format) {
        this(file, device, dtype, (java.util.function.Function<String, Place>) key -> Place.of(fileKey.apply(key)), format);
    }

    /** As the key-map constructor, for parameters that may also be chunks or transposes of the file's tensors ({@link Place}). */
    public static StateDict placed(SafeTensors file, Device device, DType dtype, java.util.function.Function<String, Place> places) {
        return placed(file, device, dtype, places, WeightFormat.DENSE);
    }

    /** As {@link #placed(SafeTensors, Device, DType, java.util.function.Function)}, with linear and convolution weights kept in {@code format}. */
    public static StateDict placed(SafeTensors file, Device device, DType dtype, java.util.function.Function<String, Place> places, WeightFormat format) {
        return new StateDict(file, device, dtype, places, format);
    }

    private StateDict(SafeTensors file, Device device, DType dtype, java.util.function.Function<String, Place> places, WeightFormat format) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("a compute dtype must be floating point, not " + dtype);
        this.file = file;
        this.device = device;
        this.dtype = dtype;
        this.format = format;
        this.places = places;
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
        return open(safetensors, device, dtype, WeightFormat.DENSE);
    }

    /** As {@link #open(Path, Device, DType)}, with linear and convolution weights kept in {@code format}. */
    public static StateDict open(Path safetensors, Device device, DType dtype, WeightFormat format) {
        return new StateDict(SafeTensors.open(safetensors), device, dtype, java.util.function.UnaryOperator.identity(), format);
    }

    @Override
    public Tensor get(String key, long... shape) {
        return read(key, shape, dtype);
    }

    /**
     * With {@link WeightFormat#INT8}, the layer's weight quantized per output channel from the file's values (in
     * float32, not the compute dtype, so bfloat16's rounding does not add to int8's); the dense copy is freed and the
     * file's pages of it given back, so only the int8 values stay resident.
     */
    @Override
    public LayerWeight layerWeight(String key, long... shape) {
        if (format == WeightFormat.DENSE) return LayerWeight.dense(get(key, shape));
        int leaf = key.lastIndexOf('.');
        try (ModulePath.Entered module = ModulePath.enter(ModulePath.of(leaf < 0 ? key : key.substring(0, leaf))); Scope quantize = Scope.open()) {
            Tensor dense = read(key, shape, DType.FLOAT32).moveTo(quantize);  // freed with this scope
            LayerWeight q = LayerWeight.int8(dense);
            loaded.put(key, q.stored().moveTo(scope));
            q.scale().moveTo(scope);
            dense.pageOut();  // a view of the mapped file (a float32 checkpoint): its pages need not stay resident
            return q;
        }
    }

    /** The parameter under {@code key}, floating-point in {@code as}, owned by {@link #scope()} and listed in {@link #parameters()}. */
    private Tensor read(String key, long[] shape, DType as) {
        Place place = places.apply(key);
        String inFile = place.key();
        String named = inFile.equals(key) && place.chunks() == 1 && !place.transposed() ? "'" + key + "'" : place.describe() + " (the model's '" + key + "')";
        if (!file.contains(inFile)) throw new IllegalArgumentException(file.path() + " has no parameter " + named + " (shape " + Arrays.toString(shape) + ")");
        long[] actual = file.entry(inFile).shape(), expected = place.storedShape(shape);
        boolean linearAsConv = !inFile.equals(key) && shape.length == 2 && actual.length == 4 && actual[0] == shape[0] && actual[1] == shape[1] && actual[2] == 1 && actual[3] == 1;
        if (!Arrays.equals(actual, expected) && !linearAsConv)
            throw new IllegalArgumentException(file.path() + ": parameter " + named + " has shape " + Arrays.toString(actual)
                    + ", the model expects " + Arrays.toString(expected));
        used.add(inFile);
        // a parameter's conversion counts in a memory profile as its module's (the model names its component around the load)
        int leaf = key.lastIndexOf('.');
        try (ModulePath.Entered module = ModulePath.enter(ModulePath.of(leaf < 0 ? key : key.substring(0, leaf))); Scope load = Scope.open()) {
            Tensor read = file.tensor(inFile);
            Tensor stored = linearAsConv ? read.reshape(shape) : read;
            if (place.chunks() > 1) stored = stored.narrow(0, place.chunk() * shape[0], shape[0]);  // a view of the mapping
            if (place.transposed()) stored = stored.transpose(0, 1).contiguous();
            // every floating-point parameter in the compute dtype, as diffusers' torch_dtype (float16 storage in float32 by default)
            Tensor converted = stored.dtype().isFloatingPoint() ? Precision.cast(stored, as) : stored;
            Tensor parameter = (device.equals(Device.CPU) ? converted : converted.to(device)).moveTo(scope);
            loaded.put(key, parameter);
            if (parameter != stored && place.chunks() == 1 && !place.transposed()) stored.pageOut();  // read once and copied: its file pages need not stay resident
            return parameter;
        }
    }

    @Override
    public java.util.Map<String, Tensor> parameters() {
        return java.util.Collections.unmodifiableMap(loaded);
    }

    public boolean contains(String key) {
        return file.contains(places.apply(key).key());
    }

    /** The shape of the file's tensor that holds a parameter. */
    public long[] shape(String key) {
        return file.entry(places.apply(key).key()).shape();
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
