package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Device;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.support.NativeTest;
import org.panamasd.support.TinyPipelineRuns;

/**
 * The device paths on the CPU (the gpu-tagged CudaTest runs the same on a CUDA device): pipelines loaded onto a
 * device run there end to end and reproduce a CPU run; noise drawn by a generator is the generator's numbers on
 * whatever device asks; timesteps are made where the sample is.
 */
class DevicePlacementTest extends NativeTest {

    @Test
    void tinyPipelinesLoadedOntoTheCpuRunThereAndRepeat() {
        try (Scope scope = Scope.open()) {
            TinyPipelineRuns.Images a = TinyPipelineRuns.run(Device.CPU), b = TinyPipelineRuns.run(Device.CPU);
            assertArrayEquals(new long[] {1, 3, 32, 40}, a.imageToImage().shape(), "image to image keeps the image's size");
            assertArrayEquals(new long[] {1, 3, 32, 48}, a.xl().shape());
            assertArrayEquals(a.textToImage().toFloatArray(), b.textToImage().toFloatArray());
            assertArrayEquals(a.imageToImage().toFloatArray(), b.imageToImage().toFloatArray());
            assertArrayEquals(a.xl().toFloatArray(), b.xl().toFloatArray());
        }
    }

    @Test
    void aGeneratorsNoiseIsItsOwnDrawOnTheAskedDevice() {
        try (Scope scope = Scope.open(); Generator g1 = new Generator(11); Generator g2 = new Generator(11)) {
            Tensor drawn = NoiseSource.of(g1).next(new long[] {2, 3}, DType.FLOAT32, Device.CPU);
            assertEquals(Device.CPU, drawn.device());
            assertArrayEquals(Tensor.randn(g2, 2, 3).toFloatArray(), drawn.toFloatArray());
        }
    }

    @Test
    void timestepsAreMadeWhereTheSampleIs() {
        try (Scope scope = Scope.open()) {
            Tensor t = UNet2DConditionModel.timesteps(801, Tensor.zeros(3, 4, 2, 2));
            assertEquals(Device.CPU, t.device());
            assertEquals(DType.FLOAT32, t.dtype());
            assertArrayEquals(new float[] {801, 801, 801}, t.toFloatArray());
        }
    }
}
