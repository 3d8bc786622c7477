package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.support.NativeTest;

/**
 * A forward pass frees its temporaries as it goes (README, Memory model): after it returns, the caller's
 * scope holds the output and nothing else, and native memory is back to what it was plus the output.
 * Checked on the shipped teacher's UNet and VAE, on a second pass: the first pass of a shape may add model state
 * (the convolutions' prepacked weights, owned by the model's parameter scope, see {@link ConvBackends}).
 */
class ForwardMemoryTest extends NativeTest {
    private static final Path TEACHER = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher");

    @Test
    void aUNetStepLeavesOnlyItsNoisePrediction() {
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(TEACHER.resolve("unet"));
                Scope step = Scope.open(); Generator g = new Generator(1); var off = Autograd.noGrad()) {
            Tensor sample = Tensor.randn(g, 2, 4, 16, 16), context = Tensor.randn(g, 2, 8, 32);
            unet.forward(sample, 500, context).close();
            long tensors = step.liveTensors(), bytes = MemoryStats.now().allocatedBytes();
            Tensor out = unet.forward(sample, 500, context);
            assertEquals(tensors + 1, step.liveTensors(), "tensors left in the caller's scope besides the output");
            assertEquals(bytes + out.storageBytes(), MemoryStats.now().allocatedBytes(), "native bytes held after the pass");
        }
    }

    @Test
    void aVaeDecodeLeavesOnlyTheImage() {
        try (AutoencoderKL vae = AutoencoderKL.load(TEACHER.resolve("vae"));
                Scope step = Scope.open(); Generator g = new Generator(2); var off = Autograd.noGrad()) {
            Tensor latents = Tensor.randn(g, 2, 4, 16, 16);
            vae.decode(latents).close();
            long tensors = step.liveTensors(), bytes = MemoryStats.now().allocatedBytes();
            Tensor image = vae.decode(latents);
            assertEquals(tensors + 1, step.liveTensors());
            assertEquals(bytes + image.storageBytes(), MemoryStats.now().allocatedBytes());
        }
    }
}
