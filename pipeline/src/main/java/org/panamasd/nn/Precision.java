package org.panamasd.nn;

import java.util.Locale;
import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * The dtype that models compute in, decided here and nowhere else: {@code float32} (the default),
 * {@code bfloat16}, or {@code auto}: bfloat16 where the CPU computes it natively
 * ({@link CpuFeatures#nativeBfloat16()}), else float32. The chosen dtype is diffusers' {@code torch_dtype}: the
 * loaders convert every floating-point weight to it ({@link StateDict}), and the UNet, VAE and text encoders
 * take and return their caller's dtype (float32) at their boundary and compute in it inside ({@link #cast}), so
 * schedulers, guidance and image conversion stay float32.
 */
public enum Precision {
    FLOAT32, BFLOAT16, AUTO;

    private static final System.Logger LOG = System.getLogger(Precision.class.getName());

    /** A dtype and, when bfloat16 was asked for on a CPU without native bfloat16, a warning that it is slow. */
    public record Choice(DType dtype, String warning) {}

    /** {@code float32}, {@code bfloat16} or {@code auto} (case-insensitive). */
    public static Precision parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "float32" -> FLOAT32;
            case "bfloat16" -> BFLOAT16;
            case "auto" -> AUTO;
            default -> throw new IllegalArgumentException("dtype must be float32, bfloat16 or auto, not " + name);
        };
    }

    /** The dtype on {@code cpu}. */
    public Choice on(CpuFeatures cpu) {
        return switch (this) {
            case FLOAT32 -> new Choice(DType.FLOAT32, null);
            case AUTO -> new Choice(cpu.nativeBfloat16() ? DType.BFLOAT16 : DType.FLOAT32, null);
            case BFLOAT16 -> new Choice(DType.BFLOAT16, cpu.nativeBfloat16() ? null
                    : cpu.has("avx512_bf16") || cpu.has("amx_bf16")
                            ? "bfloat16 under " + CpuFeatures.isaCaps(cpu.caps()) + " on " + cpu.model() + ", whose bfloat16 instructions the cap "
                                    + "keeps from libtorch's kernels: they convert through float32, expect it to be slower than float32"
                            : "bfloat16 on a CPU without avx512_bf16 or amx_bf16 (" + cpu.model() + "): libtorch emulates it through float32, "
                                    + "expect it to be slower than float32");
        };
    }

    /** The dtype on this machine's CPU, logging the warning if there is one. */
    public DType resolve() {
        Choice choice = on(CpuFeatures.current());
        if (choice.warning() != null) LOG.log(System.Logger.Level.WARNING, choice.warning());
        return choice.dtype();
    }

    /** {@code t} in {@code dtype}: itself when it already is (or null), else a converted copy. */
    public static Tensor cast(Tensor t, DType dtype) {
        return t == null || t.dtype() == dtype ? t : t.to(dtype);
    }

    /** The option's spelling: float32, bfloat16, auto. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
