package org.panamasd.training;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.PredictionType;
import org.panamasd.support.NativeTest;

class DdpmTrainerTest extends NativeTest {
    static final String TINY_UNET = """
            {"in_channels": 1, "out_channels": 1, "block_out_channels": [16, 32], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "attention_head_dim": 2,
             "cross_attention_dim": 16, "norm_num_groups": 8}""";

    private static Tensor images(long seed) {
        // a stand-in batch: smooth blobs in [-1, 1], so the test needs no dataset
        try (Generator g = new Generator(seed)) {
            return Tensor.randn(g, 4, 1, 8, 8).tanh();
        }
    }

    @Test
    void theLossFallsWhenOneBatchIsTrainedOnAndNothingLeaks() {
        long before = MemoryStats.liveTensorCount();
        try (Scope scope = Scope.open();
             DdpmTrainer trainer = new DdpmTrainer(DiffusersConfig.parse(TINY_UNET), NoiseSchedule.fromConfig(DiffusersConfig.empty()),
                     PredictionType.EPSILON, 10, 3e-3, 0.0, 5)) {
            Tensor x0 = images(1);
            Tensor labels = Tensor.of(new long[] {0, 1, 2, 3}, 4);
            double first = 0, last = 0;
            for (int step = 0; step < 60; step++) {
                // the same draws every step: a fixed objective, so the decrease is not noise
                try (Generator same = new Generator(42)) {
                    double loss = trainer.step(x0, labels, same);
                    assertTrue(Double.isFinite(loss));
                    if (step < 5) first += loss / 5;
                    if (step >= 55) last += loss / 5;
                }
            }
            assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
        }
        assertEquals(before, MemoryStats.liveTensorCount());
    }

    @Test
    void aSavedModelLoadsAsADiffusersUNetWithTheSameOutput(@TempDir Path dir) throws Exception {
        try (Scope scope = Scope.open();
             DdpmTrainer trainer = new DdpmTrainer(DiffusersConfig.parse(TINY_UNET), NoiseSchedule.fromConfig(DiffusersConfig.empty()),
                     PredictionType.V_PREDICTION, 10, 1e-3, 0.1, 6);
             Generator g = new Generator(3)) {
            Tensor x0 = images(2), labels = Tensor.of(new long[] {4, 5, 6, 7}, 4);
            trainer.step(x0, labels, g);
            trainer.save(dir);
            assertTrue(Files.exists(dir.resolve("unet/config.json")) && Files.exists(dir.resolve("class_embedding.safetensors")));
            try (UNet2DConditionModel loaded = UNet2DConditionModel.load(dir.resolve("unet")); var inference = Autograd.noGrad()) {
                Tensor context = trainer.context(labels);
                Tensor t = Tensor.of(new long[] {10, 200, 500, 900}, 4);
                assertArrayEquals(trainer.unet().forward(x0, t, context, null, null).toFloatArray(),
                        loaded.forward(x0, t, context, null, null).toFloatArray(), 1e-6f);
            }
        }
    }

    @Test
    void fashionMnistLoadsWhenDebianShipsIt() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(FashionMnist.DEBIAN_DIRECTORY.resolve("t10k-images-idx3-ubyte.gz")),
                "needs Debian's dataset-fashion-mnist");
        FashionMnist test = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false);
        assertEquals(10_000, test.size());
        try (Scope scope = Scope.open()) {
            Tensor batch = test.images(new int[] {0, 1});
            assertArrayEquals(new long[] {2, 1, 28, 28}, batch.shape());
            assertTrue(batch.min().item() >= -1 && batch.max().item() <= 1);
            assertEquals(9, test.label(0));  // the first test image is an ankle boot
        }
    }
}
