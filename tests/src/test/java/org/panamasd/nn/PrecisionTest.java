package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.support.NativeTest;

/** The compute dtype's choice from CPU flags (pure logic, fed flag sets), and the weights' conversion at load. */
class PrecisionTest extends NativeTest {
    private static final CpuFeatures ZEN5 = new CpuFeatures("AMD EPYC 9005 (Zen 5)", Set.of("avx2", "fma", "avx512f", "avx512dq", "avx512vl", "avx512bw", "avx512_bf16", "avx512_vnni"));
    private static final CpuFeatures SAPPHIRE_RAPIDS = new CpuFeatures("Intel Xeon (Sapphire Rapids)", Set.of("avx2", "avx512f", "amx_bf16", "amx_tile"));
    private static final CpuFeatures ZEN3 = new CpuFeatures("AMD EPYC 7003 (Zen 3)", Set.of("avx2", "fma"));
    private static final CpuFeatures SKYLAKE_X = new CpuFeatures("Intel Xeon (Skylake-SP)", Set.of("avx2", "avx512f", "avx512bw"));
    private static final CpuFeatures UNKNOWN = new CpuFeatures("unknown CPU", Set.of());

    @Test
    void autoIsBfloat16OnlyWhereTheCpuComputesItNatively() {
        assertEquals(DType.BFLOAT16, Precision.AUTO.on(ZEN5).dtype());
        assertEquals(DType.BFLOAT16, Precision.AUTO.on(SAPPHIRE_RAPIDS).dtype());
        for (CpuFeatures cpu : List.of(ZEN3, SKYLAKE_X, UNKNOWN)) {
            assertEquals(DType.FLOAT32, Precision.AUTO.on(cpu).dtype(), cpu.model());
            assertNull(Precision.AUTO.on(cpu).warning());
        }
    }

    @Test
    void float32AndBfloat16AreWhatWasAskedForWithAWarningWhereBfloat16IsEmulated() {
        for (CpuFeatures cpu : List.of(ZEN5, SAPPHIRE_RAPIDS, ZEN3, SKYLAKE_X, UNKNOWN)) {
            assertEquals(new Precision.Choice(DType.FLOAT32, null), Precision.FLOAT32.on(cpu));
            assertEquals(DType.BFLOAT16, Precision.BFLOAT16.on(cpu).dtype());
        }
        assertNull(Precision.BFLOAT16.on(ZEN5).warning());
        assertNull(Precision.BFLOAT16.on(SAPPHIRE_RAPIDS).warning());
        String warning = Precision.BFLOAT16.on(ZEN3).warning();
        assertNotNull(warning);
        assertTrue(warning.contains("slower") && warning.contains("Zen 3"), warning);
        assertNotNull(Precision.BFLOAT16.on(SKYLAKE_X).warning(), "AVX-512 without avx512_bf16 still converts through float32");
        // a Zen 5 capped to AVX2 (as the environment would: other variables ignored) runs as a Zen 3 would
        CpuFeatures capped = ZEN5.capped(Map.of("ATEN_CPU_CAPABILITY", "avx2", "HOME", "/root"));
        assertEquals(Map.of("ATEN_CPU_CAPABILITY", "avx2"), capped.caps());
        assertEquals(DType.FLOAT32, Precision.AUTO.on(capped).dtype());
        assertFalse(capped.hasAvx512Kernels(), "the shim's kernels follow ATEN_CPU_CAPABILITY");
        assertTrue(capped.hasAvx512(), "oneDNN's check reads the CPU");
        String cappedWarning = Precision.BFLOAT16.on(capped).warning();
        assertTrue(cappedWarning != null && cappedWarning.startsWith("bfloat16 under ATEN_CPU_CAPABILITY=avx2 on AMD EPYC 9005 (Zen 5)"), cappedWarning);
        // this process's CPU carries the caps its environment sets, and only those
        Map<String, String> own = new java.util.HashMap<>(System.getenv());
        own.keySet().retainAll(List.of("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"));
        assertEquals(own, CpuFeatures.current().caps());
    }

    @Test
    void optionValuesParseAndOthersAreRefusedByName() {
        assertEquals(Precision.FLOAT32, Precision.parse("float32"));
        assertEquals(Precision.BFLOAT16, Precision.parse("BFloat16"));
        assertEquals(Precision.AUTO, Precision.parse("auto"));
        var e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("float16"));
        assertTrue(e.getMessage().contains("float32, bfloat16 or auto") && e.getMessage().contains("float16"), e.getMessage());
    }

    @Test
    void instructionSetCapsAreNamedAndKeepBfloat16FromCappedKernels() {
        assertEquals("", CpuFeatures.isaCaps(Map.of("PATH", "/bin")));
        assertEquals("ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2", CpuFeatures.isaCaps(Map.of("ONEDNN_MAX_CPU_ISA", "AVX2", "ATEN_CPU_CAPABILITY", "avx2")));
        assertFalse(CpuFeatures.bfloat16Capped(Map.of()));
        assertFalse(CpuFeatures.bfloat16Capped(Map.of("ATEN_CPU_CAPABILITY", "avx512", "ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")));
        assertFalse(CpuFeatures.bfloat16Capped(Map.of("DNNL_MAX_CPU_ISA", "avx512_core_amx")));
        assertFalse(CpuFeatures.bfloat16Capped(Map.of("ONEDNN_MAX_CPU_ISA", "ALL")));
        assertTrue(CpuFeatures.bfloat16Capped(Map.of("ATEN_CPU_CAPABILITY", "avx2")));
        assertTrue(CpuFeatures.bfloat16Capped(Map.of("ATEN_CPU_CAPABILITY", "default")));
        assertTrue(CpuFeatures.bfloat16Capped(Map.of("ONEDNN_MAX_CPU_ISA", "AVX2")));
        assertTrue(CpuFeatures.bfloat16Capped(Map.of("DNNL_MAX_CPU_ISA", "AVX512_CORE_VNNI")), "AVX-512 without its bfloat16 instructions");
    }

    @Test
    void cpuinfoGivesTheFirstProcessorsModelAndFlags() {
        CpuFeatures cpu = CpuFeatures.parse(List.of("processor\t: 0", "model name\t: AMD EPYC 9B45", "flags\t\t: fpu avx2 avx512f avx512_bf16",
                "", "processor\t: 1", "model name\t: other", "flags\t\t: fpu"));
        assertEquals("AMD EPYC 9B45", cpu.model());
        assertEquals(Set.of("fpu", "avx2", "avx512f", "avx512_bf16"), cpu.flags());
        assertTrue(cpu.nativeBfloat16());
        assertFalse(cpu.has("avx512_bf1"), "whole flags only");
        assertFalse(CpuFeatures.parse(List.of("flags\t: avx2 fma")).nativeBfloat16());
        assertEquals(Set.of(), CpuFeatures.parse(List.of()).flags());
    }

    @Test
    void floatingPointWeightsTakeTheComputeDtypeAtLoadAndIntegersStay(@TempDir Path dir) {
        Path file = dir.resolve("w.safetensors");
        try (Scope scope = Scope.open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("f32", Tensor.of(new float[] {1.0f, 1.0f + 0x1p-12f}, 2));  // the second is not a bfloat16 value
            tensors.put("f16", Tensor.of(new float[] {0.5f, 2f}, 2).to(DType.FLOAT16));
            tensors.put("ids", Tensor.of(new long[] {0, 1, 2}, 3));
            SafeTensorsWriter.write(tensors, null, file);
        }
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            try (Scope scope = Scope.open(); StateDict state = StateDict.open(file, Device.CPU, dtype)) {
                assertEquals(dtype, state.dtype());
                assertEquals(dtype, state.get("f32", 2).dtype());
                assertEquals(dtype, state.get("f16", 2).dtype());
                assertEquals(DType.INT64, state.get("ids", 3).dtype());
                assertEquals(dtype, state.dtype(), "the store's dtype");
                double second = state.get("f32", 2).toDoubleArray()[1];
                assertEquals(dtype == DType.BFLOAT16 ? 1.0 : 1.0 + 0x1p-12, second, 0, "bfloat16 rounds to 8 significant bits");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> StateDict.open(file, Device.CPU, DType.INT64));
    }
}
