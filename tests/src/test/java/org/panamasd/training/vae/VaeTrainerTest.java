package org.panamasd.training.vae;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.vae.LatentDistribution;
import org.panamasd.support.NativeTest;

class VaeTrainerTest extends NativeTest {
    private static final String VAE = """
            {"block_out_channels": [8, 8], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "in_channels": 3, "out_channels": 3, "latent_channels": 4,
             "layers_per_block": 1, "norm_num_groups": 4, "sample_size": 8}""";

    @Test
    void klAgainstTheClosedForm() {
        try (Scope scope = Scope.open()) {
            // KL(N(1, 1) || N(0, 1)) = 0.5; KL(N(0, 4) || N(0, 1)) = 0.5 (4 - 1 - ln 4)
            LatentDistribution q = new LatentDistribution(Tensor.of(new double[] {1, 0}, 2), Tensor.of(new double[] {0, Math.log(4)}, 2));
            assertClose(0.5 + 0.5 * (3 - Math.log(4)), VaeTrainer.kl(q).item(), 1e-6);
        }
    }

    @Test
    void trainingReducesTheReconstructionErrorOfABatch() {
        try (Scope scope = Scope.open(); VaeTrainer trainer = new VaeTrainer(DiffusersConfig.parse(VAE), 3e-3, 1e-4, 1); Generator g = new Generator(2)) {
            Tensor images = Tensor.rand(g, 4, 3, 8, 8).mul(2).sub(1);
            double first = trainer.step(images, g).reconstruction(), last = first;
            for (int i = 0; i < 30; i++) last = trainer.step(images, g).reconstruction();
            assertTrue(last < 0.5 * first, "reconstruction " + first + " -> " + last);
            double scaling = trainer.scalingFactor(images);
            assertTrue(scaling > 0 && Double.isFinite(scaling), "scaling factor " + scaling);
        }
    }
}
