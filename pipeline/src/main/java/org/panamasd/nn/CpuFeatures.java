package org.panamasd.nn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The CPU as /proc/cpuinfo describes it: the model name and the feature flags of its first processor (Linux;
 * elsewhere an unknown model without flags), and the instruction-set caps this process runs under (the environment's
 * ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, DNNL_MAX_CPU_ISA: an AVX-512 machine capped to AVX2 runs as an AVX2-only
 * one would). Read, never assumed: machines differ (e.g. Zen 5 has avx512_bf16, Zen 3 only AVX2).
 */
public record CpuFeatures(String model, Set<String> flags, Map<String, String> caps) {
    private static final String UNKNOWN = "unknown CPU";

    public CpuFeatures {
        flags = Set.copyOf(flags);
        caps = Map.copyOf(caps);
    }

    /** A CPU without caps. */
    public CpuFeatures(String model, Set<String> flags) {
        this(model, flags, Map.of());
    }

    /** This machine's, under this process's caps, read once. */
    public static CpuFeatures current() {
        return Current.VALUE;
    }

    private static final class Current {
        static final CpuFeatures VALUE = read(Path.of("/proc/cpuinfo")).capped(System.getenv());
    }

    /** This CPU under the caps that {@code env} sets (its other variables ignored). */
    public CpuFeatures capped(Map<String, String> env) {
        return new CpuFeatures(model, flags, env.entrySet().stream().filter(e -> CAPS.contains(e.getKey()))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
    }

    static CpuFeatures read(Path cpuinfo) {
        try {
            return parse(Files.readAllLines(cpuinfo));
        } catch (IOException e) {
            return new CpuFeatures(UNKNOWN, Set.of());  // not Linux
        }
    }

    /** From the lines of a /proc/cpuinfo: the first "model name" and the first "flags" line. */
    public static CpuFeatures parse(List<String> lines) {
        String model = null, flags = null;
        for (String line : lines) {
            String value = line.substring(line.indexOf(':') + 1).trim();
            if (model == null && line.startsWith("model name")) model = value;
            if (flags == null && line.startsWith("flags")) flags = value;
        }
        return new CpuFeatures(model == null ? UNKNOWN : model, flags == null || flags.isEmpty() ? Set.of() : Set.of(flags.split("\\s+")));
    }

    public boolean has(String flag) {
        return flags.contains(flag);
    }

    /**
     * Whether the shim's AVX-512 kernels (attention, fused norms, the FMA probe) run here: they are compiled for
     * AVX-512 F, DQ, VL and BW, which every AVX-512 server core since Skylake has (Knights Landing has F alone), and
     * follow ATEN_CPU_CAPABILITY as libtorch's own kernels do (avx2 or default: not these).
     */
    public boolean hasAvx512Kernels() {
        String aten = caps.get("ATEN_CPU_CAPABILITY");
        return hasAvx512() && !"avx2".equals(aten) && !"default".equals(aten);
    }

    /**
     * Whether the CPU has AVX-512 F, DQ, VL and BW, whatever the caps: what libtorch's oneDNN checks (from the CPU,
     * not ATEN_CPU_CAPABILITY) before it takes bfloat16 convolutions and matrix products.
     */
    public boolean hasAvx512() {
        return has("avx512f") && has("avx512dq") && has("avx512vl") && has("avx512bw");
    }

    /**
     * Whether the CPU computes bfloat16 natively: AVX-512 BF16 (avx512_bf16: Cooper Lake, Sapphire Rapids, Zen 4
     * and 5) or AMX (amx_bf16: Sapphire Rapids), the instructions oneDNN's bfloat16 kernels in libtorch use.
     * Without them libtorch converts bfloat16 to float32 and back around float32 arithmetic: it works, slower
     * than float32.
     */
    public boolean nativeBfloat16() {
        return (has("avx512_bf16") || has("amx_bf16")) && !bfloat16Capped(caps);
    }

    // libtorch's and oneDNN's own limits on the instructions their kernels use (the shim's attention kernels
    // follow ATEN_CPU_CAPABILITY too): set, an AVX-512 machine measures as an AVX2-only one would.
    private static final List<String> CAPS = List.of("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA");

    /** The instruction-set caps set in this process's environment ("NAME=value" each, comma-separated), or "". */
    public static String isaCaps() {
        return isaCaps(current().caps());
    }

    static String isaCaps(Map<String, String> env) {
        return CAPS.stream().filter(env::containsKey).map(name -> name + "=" + env.get(name)).collect(Collectors.joining(", "));
    }

    /** Whether a cap keeps the kernels from the CPU's bfloat16 instructions (oneDNN's ISA names them BF16 or AMX). */
    static boolean bfloat16Capped(Map<String, String> env) {
        String aten = env.get("ATEN_CPU_CAPABILITY");
        if (aten != null && (aten.equals("avx2") || aten.equals("default"))) return true;
        for (String name : List.of("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")) {
            String isa = env.get(name);
            if (isa != null && !(isa.toUpperCase().contains("BF16") || isa.toUpperCase().contains("AMX") || isa.equalsIgnoreCase("ALL"))) return true;
        }
        return false;
    }
}
