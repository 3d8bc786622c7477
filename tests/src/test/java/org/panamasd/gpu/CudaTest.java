package org.panamasd.gpu;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.support.NativeTest;
import org.panamasd.support.TinyPipelineRuns;

/** CUDA checks: run with -Pgpu on a machine with a GPU and the shim built against a CUDA libtorch (-Dtorch.dir=...). */
@Tag("gpu")
@EnabledIf(value = "cudaAvailable", disabledReason = "needs a CUDA device and a CUDA build of libtorch")
class CudaTest extends NativeTest {

    static boolean cudaAvailable() {
        return Torch.cudaDeviceCount() > 0;
    }

    @Test
    void opsOnTheGpuMatchTheCpu() {
        Device gpu = Device.cuda(0);
        try (Scope scope = Scope.open(); Generator g = new Generator(1)) {
            Tensor a = Tensor.randn(g, 64, 64), b = Tensor.randn(g, 64, 64);
            Tensor onGpu = a.to(gpu).matmul(b.to(gpu)).silu();
            assertEquals(gpu, onGpu.device());
            assertArrayEquals(a.matmul(b).silu().toFloatArray(), onGpu.to(Device.CPU).toFloatArray(), 1e-3f);
            Tensor q = Tensor.randn(g, 1, 4, 16, 8);
            Tensor attention = Functional.scaledDotProductAttention(q.to(gpu), q.to(gpu), q.to(gpu), null, 0, false, 0);
            assertArrayEquals(Functional.scaledDotProductAttention(q, q, q, null, 0, false, 0).toFloatArray(),
                    attention.to(Device.CPU).toFloatArray(), 1e-3f);
        }
    }

    /** The tiny SD, image-to-image and SDXL pipelines end to end on the GPU, with CPU generators: as on the CPU. */
    @Test
    void tinyPipelinesRunEndToEndOnTheGpuAsOnTheCpu() {
        try (Scope scope = Scope.open()) {
            TinyPipelineRuns.Images gpu = TinyPipelineRuns.run(Device.cuda(0)), cpu = TinyPipelineRuns.run(Device.CPU);
            assertArrayEquals(cpu.textToImage().toFloatArray(), gpu.textToImage().toFloatArray(), 2e-3f);
            assertArrayEquals(cpu.imageToImage().toFloatArray(), gpu.imageToImage().toFloatArray(), 2e-3f);
            assertArrayEquals(cpu.xl().toFloatArray(), gpu.xl().toFloatArray(), 2e-3f);
        }
    }

    @Test
    void aCudaGeneratorReproducesItsDraws() {
        try (Scope scope = Scope.open(); Generator g1 = new Generator(Device.cuda(0), 5); Generator g2 = new Generator(Device.cuda(0), 5)) {
            Tensor x = Tensor.randn(g1, DType.FLOAT32, Device.cuda(0), 1000), y = Tensor.randn(g2, DType.FLOAT32, Device.cuda(0), 1000);
            assertArrayEquals(x.toFloatArray(), y.toFloatArray());
        }
    }
}
