package org.panamasd.nn;

import java.util.List;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Functional;
import org.panamasd.MemoryFormat;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;

/**
 * A 2-d convolution (torch.nn.Conv2d, square kernel); keys {@code <prefix>.weight} (out, in, k, k) and {@code .bias}.
 *
 * <p>On the CPU without grad (no-grad or inference mode) and in float32 or bfloat16, {@link #forward} runs the
 * {@link ConvBackend} that {@link ConvBackends} chose for the input's shape and dtype: the dense conv, oneDNN with this
 * layer's weight prepacked, or a channels-last conv. Under autograd, on another device or in another dtype it is always the
 * plain conv. The prepacked weight is made on first use, owned by the scope that owns the weight (the model's
 * parameter scope, so it is freed when the model closes), made again when the weight changes in place (its version
 * counter moved: an optimizer step, an EMA copy), and dropped when the shapes timed on this layer chose another backend.
 * The timed choice considers the prepacked weight only where the dense one can then leave the resident set (a view of
 * a mapped checkpoint in the compute dtype, {@link Tensor#isExternal}): a converted copy (a float16 checkpoint run in
 * float32, a float32 one run in bfloat16) would stay beside the packed one and double the layer's memory for a speed the
 * timing rarely finds (SD 1.5 generating at 512 px from a float16 file in float32: 7.5 GiB peak, 5.0 without); a forced {@code prepacked}
 * still packs it. An int8 weight ({@link WeightFormat#INT8}) is never prepacked (a packed float copy would undo its saving): it is
 * dequantized into the input's dtype for each call, and the dense and channels-last convs are timed with it.
 */
public final class Conv2d {
    /** The weight as stored: dense, or the int8 values of a quantized one. */
    public final Tensor weight;
    public final Tensor bias;
    private final LayerWeight stored;
    private final long in, out, kernel, stride, padding;
    private final boolean cpu;
    private final List<ConvBackend> candidates;
    private final boolean denseCanLeaveMemory;
    private final Object packLock = new Object();
    private volatile Packed packed;
    private volatile boolean packedChosen;  // some shape of this layer runs PREPACKED: keep the packed weight

    private record Packed(Tensor tensor, long version) {}

    private final ModulePath.Name modulePath;

    public Conv2d(Weights weights, String prefix, long in, long out, long kernel, long stride, long padding) {
        this.modulePath = ModulePath.of(prefix);
        this.stored = weights.layerWeight(prefix + ".weight", out, in, kernel, kernel);
        this.weight = stored.stored();
        this.bias = weights.get(prefix + ".bias", out);
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.cpu = weight.device().equals(Device.CPU);
        // the packed weight needs an owner that outlives any forward and that any thread may add to
        Scope owner = weight.scope();
        // an inference tensor has no version counter, so a packed copy could not tell that it went stale
        boolean packable = cpu && owner != null && owner.isDetached() && weight.version() >= 0
                && (weight.dtype() == DType.FLOAT32 || (weight.dtype() == DType.BFLOAT16 && oneDnnBfloat16()));
        this.denseCanLeaveMemory = cpu && weight.isExternal();
        this.candidates = packable ? List.of(ConvBackend.DENSE, ConvBackend.PREPACKED, ConvBackend.CHANNELS_LAST)
                : List.of(ConvBackend.DENSE, ConvBackend.CHANNELS_LAST);
    }

    /**
     * Whether libtorch's oneDNN takes bfloat16 convolutions here: it refuses them (mkldnn_bf16_device_check) on a CPU
     * without AVX-512 BW, VL and DQ.
     */
    static boolean oneDnnBfloat16() {
        return CpuFeatures.current().hasAvx512();
    }

    /** Whether this is a 3x3 convolution with stride 1 and padding 1, which keeps the input's height and width. */
    public boolean keepsSize3x3() {
        return weight.size(2) == 3 && weight.size(3) == 3 && stride == 1 && padding == 1;
    }

    public Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            // autograd, other devices and dtypes take the plain conv before the settings are read: a bad setting only
            // fails the calls it governs
            if (!cpu || Autograd.isGradEnabled() || (x.dtype() != DType.FLOAT32 && x.dtype() != DType.BFLOAT16)) return plain(x);
            // an input in another dtype than the dense weight's gets libtorch's own error from the plain conv
            if (!stored.quantized() && x.dtype() != weight.dtype()) return plain(x);
            ConvBackends backends = ConvBackends.current();
            if (backends.forced() == ConvBackend.DENSE) return plain(x);
            long[] s = x.shape();
            if (s.length != 4) return plain(x);
            boolean channelsLast = channelsLast(x);
            // an int8 layer dequantizes in each call and cannot prepack: its choices are timed apart from a dense layer's
            String dtype = shapeDtype(x.dtype());
            var shape = new ConvBackends.Shape(in, out, kernel, stride, padding, s[0], s[2], s[3], channelsLast, dtype, Torch.numThreads());
            List<ConvBackend> available = ConvBackends.prepackAvailable() ? candidates : List.of(ConvBackend.DENSE, ConvBackend.CHANNELS_LAST);
            if (backends.forced() == null && !denseCanLeaveMemory) available = available.stream().filter(b -> b != ConvBackend.PREPACKED).toList();
            // a channels-last input already makes the dense conv NHWC: CHANNELS_LAST would time the same call twice
            if (channelsLast) available = available.stream().filter(b -> b != ConvBackend.CHANNELS_LAST).toList();
            return backends.run(shape, available, new ConvBackends.Runner() {
                @Override
                public Tensor run(ConvBackend backend, boolean trial) {
                    if (backend == ConvBackend.PREPACKED && !trial) packedChosen = true;
                    return forward(x, backend, channelsLast);
                }

                @Override
                public void decided(ConvBackend choice) {
                    if (choice == ConvBackend.PREPACKED) {
                        packedChosen = true;
                        pageOutDense();  // the timing's dense rounds read it back in
                    } else if (!packedChosen) dropPacked();
                }
            });
        }
    }

    /**
     * This layer through one backend, whatever the choice: for tests and benchmarks. {@link ConvBackend#PREPACKED}
     * is inference only (it fails under autograd when the input requires grad) and needs oneDNN and a weight in a
     * detached scope.
     */
    public Tensor forward(Tensor x, ConvBackend backend) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return forward(x, backend, channelsLast(x));
        }
    }

    /** The dtype of a {@link ConvBackends.Shape}: the input's, with int8 weights timed apart (no string built per call). */
    private String shapeDtype(DType input) {
        if (input == DType.FLOAT32) return stored.quantized() ? "float32_int8_weights" : "float32";
        return stored.quantized() ? "bfloat16_int8_weights" : "bfloat16";
    }

    /** Every backend returns the input's layout, so a channels-last model (the VAE) stays channels-last. */
    private Tensor forward(Tensor x, ConvBackend backend, boolean channelsLast) {
        return switch (backend) {
            case DENSE -> plain(x);
            case CHANNELS_LAST -> channelsLast ? plain(x)
                    : Scope.returning(() -> Functional.conv2d(x.contiguous(MemoryFormat.CHANNELS_LAST), stored.in(x.dtype()), bias, stride, padding)
                            .contiguous(MemoryFormat.CONTIGUOUS));
            case PREPACKED -> channelsLast ? Scope.returning(() -> prepacked(x).contiguous(MemoryFormat.CHANNELS_LAST)) : prepacked(x);
        };
    }

    /**
     * The dense weight's pages may leave the resident set while the packed copy does the work: only a weight never
     * changed in place (a trainer's weights change every step; paging them out each time would only churn).
     */
    private void pageOutDense() {
        if (weight.version() == 0) weight.pageOut();
    }

    /** Whether a 4-d tensor is laid out channels-last (NHWC) and not also NCHW-contiguous. */
    static boolean channelsLast(Tensor x) {
        return x.dim() == 4 && x.isContiguous(MemoryFormat.CHANNELS_LAST) && !x.isContiguous();
    }

    private Tensor plain(Tensor x) {
        if (!stored.quantized()) return Functional.conv2d(x, weight, bias, stride, padding);
        return Scope.returning(() -> Functional.conv2d(x, stored.in(x.dtype()), bias, stride, padding));
    }

    private Tensor prepacked(Tensor x) {
        Tensor p = packedWeight();
        try {
            return Functional.conv2dPrepacked(x, p, bias, stride, padding);
        } catch (IllegalStateException closed) {
            // another thread replaced or dropped the packed weight just now: once more with a current one
            if (p.isOpen()) throw closed;
            return Functional.conv2dPrepacked(x, packedWeight(), bias, stride, padding);
        }
    }

    /** The prepacked weight for the weight as it is now: made (again) under a lock when missing or stale. */
    private Tensor packedWeight() {
        long version = weight.version();
        Packed p = packed;
        if (p != null && p.version == version && p.tensor.isOpen()) return p.tensor;
        synchronized (packLock) {
            p = packed;
            if (p != null && p.version == version && p.tensor.isOpen()) return p.tensor;
            if (!candidates.contains(ConvBackend.PREPACKED))
                throw new IllegalStateException("this Conv2d cannot prepack its weight (it needs a float32 CPU weight, or a bfloat16 one on a CPU with AVX-512 BW, VL and DQ, owned by a detached scope, and oneDNN)");
            Scope owner = weight.scope();
            if (owner == null) throw new IllegalStateException("tensor is closed");
            Tensor made;
            try (Scope temporary = Scope.open()) {
                made = Functional.conv2dPrepack(weight, stride, padding).moveTo(owner);
            }
            packed = new Packed(made, version);
            // the packed copy does the work now: the dense weight's pages (a mapped checkpoint's) may leave the
            // resident set instead of doubling the model's memory; they come back from the file if read again
            pageOutDense();
            if (p != null) p.tensor.close();  // stale: a racing call on it still finishes (it is pinned)
            return made;
        }
    }

    private void dropPacked() {
        synchronized (packLock) {
            Packed p = packed;
            if (p == null || packedChosen) return;
            packed = null;
            p.tensor.close();
        }
    }
}
