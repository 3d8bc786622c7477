package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.nn.CpuFeatures;
import org.panamasd.support.NativeTest;

/** The measured float32 multiply-add peak that bench-model states each part's FLOP/s against. */
class FmaPeakTest extends NativeTest {
    @Test
    void aGemmNeverBeatsThePeakAndThePeakIsWithinWhatAnyX86CoreCanDo() {
        CpuFeatures cpu = CpuFeatures.current();
        Assumptions.assumeTrue(cpu.has("avx2") && cpu.has("fma"), "the probe needs AVX2 + FMA or AVX-512; this CPU has " + cpu.flags());
        String cap = System.getenv("ATEN_CPU_CAPABILITY");
        Assumptions.assumeFalse("default".equals(cap), "ATEN_CPU_CAPABILITY=default: no vector kernels, so no probe");
        int lanes = cpu.hasAvx512Kernels() ? 16 : 8;  // capped to avx2, an AVX-512 CPU has only the AVX2 kernels
        Torch.FmaPeak peak = Torch.fmaPeak(0.5);
        assertEquals(lanes, peak.lanes(), "the widest vectors of " + cpu.flags());
        // no x86 core retires more than two vector FMAs a cycle, and none runs at 6 GHz
        double ceiling = Torch.numThreads() * 2 * lanes * 2 * 6.0;
        assertTrue(peak.gflopsPerSecond() > 0 && peak.gflopsPerSecond() < ceiling, peak + " against the ceiling " + ceiling);
        // a 768^3 float32 matmul (BLAS, the same threads) is FMAs too, at best near the peak: best of three calls
        double gemm = 0;
        try (Scope s = Scope.open(); Generator g = new Generator(1); var inference = Autograd.inferenceMode()) {
            Tensor a = Tensor.randn(g, 768, 768), b = Tensor.randn(g, 768, 768);
            a.matmul(b);
            for (int i = 0; i < 3; i++) {
                long start = System.nanoTime();
                try (Scope call = Scope.open()) {
                    a.matmul(b);
                }
                gemm = Math.max(gemm, 2.0 * 768 * 768 * 768 / ((System.nanoTime() - start) / 1e9) / 1e9);
            }
        }
        // a quarter of slack, and the probe's best of two runs, for a neighbour that slowed the probe but not the GEMM
        // (a probe that undercounts does so every time); under a cap, BLAS may not follow it
        if (cap == null) {
            double best = peak.gflopsPerSecond();
            if (gemm >= 1.25 * best) best = Math.max(best, Torch.fmaPeak(0.5).gflopsPerSecond());
            assertTrue(gemm < 1.25 * best, "a GEMM at " + gemm + " GFLOP/s beat the measured peak " + best + " (" + peak + ")");
        }
    }

    @Test
    void aDurationOutsideZeroToAMinuteIsRefusedByName() {
        for (double seconds : new double[] {0, -1, 61, Double.NaN}) {
            var e = assertThrows(RuntimeException.class, () -> Torch.fmaPeak(seconds));
            assertTrue(e.getMessage().contains("FMA peak is measured for 0 to 60 seconds"), e.getMessage());
        }
    }
}
