package org.panamasd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;
import org.panamasd.internal.panamasd_h;

/** The libtorch runtime: versions, build and BLAS facts, threads and the global seed. */
public final class Torch {

    public static String version() {
        return string(ret -> panamasd_h.psd_runtime_torch_version(ret), "psd_runtime_torch_version");
    }

    /** libtorch's own build summary (BLAS, oneDNN, OpenMP, CPU capability). */
    public static String buildInfo() {
        return string(ret -> panamasd_h.psd_runtime_build_info(ret), "psd_runtime_build_info");
    }

    /** The BLAS that the process actually maps: the library behind sgemm_ and OpenBLAS's configuration. */
    public static String blasInfo() {
        return string(ret -> panamasd_h.psd_runtime_blas_info(ret), "psd_runtime_blas_info");
    }

    /**
     * Hands memory the allocators keep after frees back to the system: the block pool's free blocks
     * ({@link MemoryStats#releasePool()}) and malloc's ({@link #trimMalloc()}). Between requests, not inside a step:
     * the pool's blocks are what keeps a warm step from faulting its pages in again. True when pages went back.
     */
    public static boolean trimHeap() {
        boolean pooled = MemoryStats.releasePool() > 0;
        return trimMalloc() || pooled;
    }

    /**
     * glibc's malloc_trim: hands back the pages of malloc's heap that frees left. Tensors smaller than the block
     * pool's 1 MiB come from that heap, which keeps their pages after they die: a pass that makes many of them (a
     * banded convolution's bands) would otherwise leave its peak resident. The pool keeps its blocks. True when
     * pages went back.
     */
    public static boolean trimMalloc() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(4);
        Native.check(panamasd_h.psd_runtime_trim_heap(ret), "psd_runtime_trim_heap");
        return ret.get(ValueLayout.JAVA_INT, 0) != 0;
    }

    public static int numThreads() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(4);
        Native.check(panamasd_h.psd_runtime_get_num_threads(ret), "psd_runtime_get_num_threads");
        return ret.get(ValueLayout.JAVA_INT, 0);
    }

    public static void setNumThreads(int threads) {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_runtime_set_num_threads(threads), "psd_runtime_set_num_threads");
    }

    /** Seeds libtorch's default generators (random ops called without a Generator). */
    public static void manualSeed(long seed) {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_runtime_manual_seed(seed), "psd_runtime_manual_seed");
    }

    public static int cudaDeviceCount() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(4);
        Native.check(panamasd_h.psd_runtime_cuda_device_count(ret), "psd_runtime_cuda_device_count");
        return ret.get(ValueLayout.JAVA_INT, 0);
    }

    /** Whether attention uses libtorch's fused kernel (libtorch 2.x) or the shim's math path. */
    public static boolean hasFusedAttention() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(4);
        Native.check(panamasd_h.psd_runtime_has_fused_sdpa(ret), "psd_runtime_has_fused_sdpa");
        return ret.get(ValueLayout.JAVA_INT, 0) != 0;
    }

    /**
     * Whether CPU attention (float32, or bfloat16 with AVX512_BF16; heads of up to 256 features, no mask or dropout,
     * causal or not, no graph to record) may be computed by the shim's flash kernels (blocks of queries and keys, a
     * running maximum and sum, no score matrix; SIMD kernels for {@link #flashAttentionIsa()}) rather than the math
     * path (chunks of queries over bmm + softmax): true under the choices "flash" and "timed"
     * ({@link #attentionChoice()}). Used only where libtorch has no fused kernel (1.x) and the CPU has kernels.
     */
    public static boolean flashAttention() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(1);
        Native.check(panamasd_h.psd_runtime_get_flash_attention(ret), "psd_runtime_get_flash_attention");
        return ret.get(ValueLayout.JAVA_BOOLEAN, 0);
    }

    /**
     * Which path attention takes where the flash kernels apply, process-wide: "timed" (the default: per shape the
     * faster of the kernels and the math path, timed on the shape's first call, both twice), "flash" (the kernels
     * wherever they apply) or "math" (-Dpanamasd.attention / PANAMASD_ATTENTION at start).
     */
    public static void setAttentionChoice(String choice) {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_runtime_set_attention_choice(Native.attentionCode(choice)), "psd_runtime_set_attention_choice");
    }

    /** "timed", "flash" or "math" (see {@link #setAttentionChoice}). */
    public static String attentionChoice() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(4);
        Native.check(panamasd_h.psd_runtime_get_attention_choice(ret), "psd_runtime_get_attention_choice");
        return switch (ret.get(ValueLayout.JAVA_INT, 0)) {
            case 0 -> "math";
            case 1 -> "flash";
            default -> "timed";
        };
    }

    /** Attention shapes timed so far in this process under "timed", and how many of them chose the flash kernels. */
    public record AttentionTimings(long shapes, long flash) {}

    public static AttentionTimings attentionTimings() {
        Native.ensureLoaded();
        ThreadState state = ThreadState.get().reset();
        MemorySegment shapes = state.allocate(8), flash = state.allocate(8);
        Native.check(panamasd_h.psd_runtime_attention_timings(shapes, flash), "psd_runtime_attention_timings");
        return new AttentionTimings(shapes.get(ValueLayout.JAVA_LONG, 0), flash.get(ValueLayout.JAVA_LONG, 0));
    }

    /** Values per row of {@link #attentionChoices()}: the shape's 9 (see there) and the winner. */
    public static final int ATTENTION_ROW = 10;

    /**
     * The timed choices on record in this process, a row per shape: dtype (c10's ScalarType code), heads, queries,
     * keys, features, value features, causal (1/0), threads, kernels (2 AVX-512, 1 AVX2), then 1 where the flash
     * kernels won, 0 where the math path did.
     */
    public static long[][] attentionChoices() {
        Native.ensureLoaded();
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_LONG);
            Native.check(panamasd_h.psd_runtime_attention_choices(MemorySegment.NULL, 0, count), "psd_runtime_attention_choices");
            // room for a few more than now: another thread may time a shape between the two calls
            long capacity = count.get(ValueLayout.JAVA_LONG, 0) + 16;
            MemorySegment rows = arena.allocate(ValueLayout.JAVA_LONG, capacity * ATTENTION_ROW);
            Native.check(panamasd_h.psd_runtime_attention_choices(rows, capacity, count), "psd_runtime_attention_choices");
            long n = Math.min(capacity, count.get(ValueLayout.JAVA_LONG, 0));
            long[][] out = new long[(int) n][];
            for (int i = 0; i < n; i++) out[i] = rows.asSlice((long) i * ATTENTION_ROW * 8, ATTENTION_ROW * 8L).toArray(ValueLayout.JAVA_LONG);
            return out;
        }
    }

    /** Puts rows of {@link #attentionChoices()}'s form on record; a shape already on record keeps its choice. */
    public static void putAttentionChoices(long[][] rows) {
        Native.ensureLoaded();
        for (int i = 0; i < rows.length; i++)
            if (rows[i].length != ATTENTION_ROW) throw new IllegalArgumentException("attention choice row " + i + " has " + rows[i].length + " values, not " + ATTENTION_ROW);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment flat = arena.allocate(ValueLayout.JAVA_LONG, Math.max(1, (long) rows.length * ATTENTION_ROW));
            for (int i = 0; i < rows.length; i++) MemorySegment.copy(rows[i], 0, flat, ValueLayout.JAVA_LONG, (long) i * ATTENTION_ROW * 8, ATTENTION_ROW);
            Native.check(panamasd_h.psd_runtime_put_attention_choices(flat, rows.length), "psd_runtime_put_attention_choices");
        }
    }

    /** Forgets every timed choice: the next call of each shape is timed again (tests; a new machine state). */
    public static void clearAttentionChoices() {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_runtime_clear_attention_choices(), "psd_runtime_clear_attention_choices");
    }

    /**
     * Whether group norm (with or without SiLU), layer norm, {@link Functional#geglu}, {@link Functional#scaleShiftSilu}
     * and {@link Functional#channelMoments} run in the shim's fused kernels where they apply (CPU float32 or bfloat16
     * inputs laid out as each kernel reads them, parameters in float32 or the input's dtype, no graph to record, a CPU
     * with the {@link #flashAttentionIsa()} kernels): one pass over the input, computed in float32. Default on
     * (-Dpanamasd.fusedKernels / PANAMASD_FUSED_KERNELS at start).
     */
    public static boolean fusedKernels() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(1);
        Native.check(panamasd_h.psd_runtime_get_fused_kernels(ret), "psd_runtime_get_fused_kernels");
        return ret.get(ValueLayout.JAVA_BOOLEAN, 0);
    }

    /** How many calls the fused kernels ({@link #fusedKernels()}) have computed in this process. */
    public static long fusedKernelCalls() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(8);
        Native.check(panamasd_h.psd_runtime_fused_kernel_calls(ret), "psd_runtime_fused_kernel_calls");
        return ret.get(ValueLayout.JAVA_LONG, 0);
    }

    /** Fused kernels on, or libtorch's ops for every call (comparisons, benchmarks). Process-wide. */
    public static void setFusedKernels(boolean enabled) {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_runtime_set_fused_kernels(enabled), "psd_runtime_set_fused_kernels");
    }

    /** The flash kernels wherever they apply (true: {@code setAttentionChoice("flash")}) or never ("math"). */
    public static void setFlashAttention(boolean enabled) {
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_runtime_set_flash_attention(enabled), "psd_runtime_set_flash_attention");
    }

    /**
     * Uses the kernels of an older instruction set than this CPU's ("avx2" on an AVX-512 CPU, to test or measure them)
     * or "none" (the math path only); more than the CPU has is refused. Process-wide.
     */
    public static void setFlashAttentionIsa(String isa) {
        int code = switch (isa) {
            case "avx512" -> 2;
            case "avx2" -> 1;
            case "none" -> 0;
            default -> throw new IllegalArgumentException("flash attention kernels are avx512, avx2 or none, got '" + isa + "'");
        };
        Native.ensureLoaded();
        Native.check(panamasd_h.psd_runtime_set_flash_attention_isa(code), "psd_runtime_set_flash_attention_isa");
    }

    /** The instruction set of the flash attention kernel in use (from CPUID unless set): "avx512", "avx2" or "none" (the math path only). */
    public static String flashAttentionIsa() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(4);
        Native.check(panamasd_h.psd_runtime_flash_attention_isa(ret), "psd_runtime_flash_attention_isa");
        return switch (ret.get(ValueLayout.JAVA_INT, 0)) {
            case 2 -> "avx512";
            case 1 -> "avx2";
            default -> "none";
        };
    }

    /** The machine's float32 multiply-add peak as measured by {@link #fmaPeak}: GFLOP/s and the lanes per vector. */
    public record FmaPeak(double gflopsPerSecond, int lanes) {}

    /**
     * Measures the float32 multiply-add peak of libtorch's intra-op threads for about {@code seconds} (0 to 60):
     * independent FMA chains in the widest vectors this CPU has (AVX-512 or AVX2; as capped by
     * ATEN_CPU_CAPABILITY), the best of repeated runs. 0 GFLOP/s on a CPU with neither. Occupies every intra-op
     * thread while it runs: a workload's FLOP/s over it is its share of what the cores do at the clock they run now.
     */
    public static FmaPeak fmaPeak(double seconds) {
        Native.ensureLoaded();
        ThreadState state = ThreadState.get().reset();
        MemorySegment gflops = state.allocate(8), lanes = state.allocate(4);
        Native.check(panamasd_h.psd_runtime_fma_peak(seconds, gflops, lanes), "psd_runtime_fma_peak");
        return new FmaPeak(gflops.get(ValueLayout.JAVA_DOUBLE, 0), lanes.get(ValueLayout.JAVA_INT, 0));
    }

    /** Whether this libtorch has oneDNN (mkldnn) CPU kernels, which {@link Functional#conv2dPrepack} needs. */
    public static boolean hasMkldnn() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(4);
        Native.check(panamasd_h.psd_runtime_has_mkldnn(ret), "psd_runtime_has_mkldnn");
        return ret.get(ValueLayout.JAVA_INT, 0) != 0;
    }

    private interface StringCall {
        int invoke(MemorySegment ret);
    }

    private static String string(StringCall call, String name) {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().pointer();
        Native.check(call.invoke(ret), name);
        return ret.get(ValueLayout.ADDRESS, 0).reinterpret(Long.MAX_VALUE).getString(0);
    }

    private Torch() {}
}
