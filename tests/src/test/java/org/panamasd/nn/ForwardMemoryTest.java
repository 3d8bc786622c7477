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
 * A forward pass frees its temporaries as it goes (docs/memory-model.md): after it returns, the caller's
 * scope holds the output and nothing else, and native memory is back to what it was plus the output.
 * Checked on the shipped teacher's UNet and VAE, on a second pass: the first pass of a shape may add model state
 * (the convolutions' prepacked weights, owned by the model's parameter scope, see {@link ConvBackends}).
 */
class ForwardMemoryTest extends NativeTest {
    private static final Path TEACHER = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher");

    /** An empty conv-backend cache, so that the first pass times its convolution shapes (what a fresh machine does). */
    @org.junit.jupiter.api.BeforeEach
    void freshConvBackendCache(@org.junit.jupiter.api.io.TempDir Path dir) {
        previousCacheDir = System.getProperty(ConvBackends.DIR_PROPERTY);
        System.setProperty(ConvBackends.DIR_PROPERTY, dir.toString());
        ConvBackends.reload();
    }

    @org.junit.jupiter.api.AfterEach
    void restoreConvBackendCache() {
        if (previousCacheDir == null) System.clearProperty(ConvBackends.DIR_PROPERTY);
        else System.setProperty(ConvBackends.DIR_PROPERTY, previousCacheDir);
        ConvBackends.reload();
    }

    private String previousCacheDir;

    @Test
    void aUNetStepLeavesOnlyItsNoisePrediction() {
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(TEACHER.resolve("unet"));
                Scope step = Scope.open(); Generator g = new Generator(1); var off = Autograd.noGrad()) {
            Tensor sample = Tensor.randn(g, 2, 4, 16, 16), context = Tensor.randn(g, 2, 8, 32);
            // the first pass (convolution shapes timed, packed weights made in the model's scope): only the output
            long before = step.liveTensors();
            unet.forward(sample, 500, context).close();
            assertEquals(before, step.liveTensors(), "tensors left in the caller's scope by the first pass");
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
            long before = step.liveTensors();
            vae.decode(latents).close();
            assertEquals(before, step.liveTensors(), "tensors left in the caller's scope by the first pass");
            long tensors = step.liveTensors(), bytes = MemoryStats.now().allocatedBytes();
            Tensor image = vae.decode(latents);
            assertEquals(tensors + 1, step.liveTensors());
            assertEquals(bytes + image.storageBytes(), MemoryStats.now().allocatedBytes());
        }
    }
}
