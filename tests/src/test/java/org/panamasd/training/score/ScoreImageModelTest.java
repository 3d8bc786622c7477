package org.panamasd.training.score;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.unet.ClassConditionalUNet;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.support.NativeTest;
import org.panamasd.training.LearningRateSchedule;

/** The image path of score models: a tiny class-conditional UNet trained a few steps, saved, loaded back and sampled by every sampler. */
class ScoreImageModelTest extends NativeTest {
    static final String TINY_UNET = """
            {"in_channels": 1, "out_channels": 1, "block_out_channels": [16, 32], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "attention_head_dim": 2,
             "cross_attention_dim": 16, "norm_num_groups": 8}""";

    @Test
    void theLossFallsOnAFixedObjectiveAndASavedModelSamplesWithEverySampler(@TempDir Path dir) {
        long before = MemoryStats.liveTensorCount();
        for (String kind : new String[] {"ncsn", "ve", "vp"}) {
            ScoreModelConfig config = new ScoreModelConfig(kind, 0.01, 50, 10, 0.1, 20, false, 1, 8);
            Path out = dir.resolve(kind);
            try (Scope scope = Scope.open(); ClassConditionalUNet network = ClassConditionalUNet.initialize(DiffusersConfig.parse(TINY_UNET), 10, 4);
                 ScoreTrainer trainer = new ScoreTrainer(network::forward, network.parameters(), config.objective(), network.nullClass(),
                         new LearningRateSchedule(3e-3, 0, 30, 1.0), 0.0, 0.9)) {
                Tensor x0;
                try (Generator g = new Generator(1)) {
                    x0 = Tensor.randn(g, 4, 1, 8, 8).tanh();
                }
                Tensor labels = Tensor.of(new long[] {0, 1, 2, 3}, 4);
                double first = 0, last = 0;
                for (int step = 0; step < 30; step++) {
                    // the same draws every step: a fixed objective, so a decrease is not noise
                    try (Generator same = new Generator(42)) {
                        double loss = trainer.step(x0, labels, same);
                        if (step < 5) first += loss / 5;
                        if (step >= 25) last += loss / 5;
                    }
                }
                assertTrue(last < 0.7 * first, kind + ": loss " + first + " -> " + last);
                ScoreImageModel.save(out, config, network, trainer.emaWeights());
                // the EMA weights were written, not the raw ones
                try (ClassConditionalUNet loaded = ClassConditionalUNet.load(out); var frozen = Autograd.noGrad()) {
                    String key = ClassConditionalUNet.EMBEDDING_KEY;
                    assertArrayEquals(trainer.emaWeights().get(key).toFloatArray(), loaded.parameters().get(key).toFloatArray(), 0f);
                }
            }
            try (Scope scope = Scope.open(); ScoreImageModel model = ScoreImageModel.load(out); Generator g = new Generator(9)) {
                assertEquals(kind, model.config().kind());
                Tensor labels = Tensor.of(new long[] {5, 7}, 2);
                for (ScoreSampler sampler : ScoreSampler.values()) {
                    if ((sampler == ScoreSampler.LANGEVIN) != kind.equals("ncsn")) {
                        assertThrows(IllegalArgumentException.class, () -> model.images(labels, Tensor.randn(g, 2, 1, 8, 8), sampler, 2, 1.0, NoiseSource.of(g)));
                        continue;
                    }
                    // guidance 2 runs the null class beside the labels; PC with 21 steps: VP's corrector needs more than beta_max = 20
                    int steps = switch (sampler) { case LANGEVIN -> 1; case PC -> 21; case ODE -> 3; };
                    Tensor images = model.images(labels, Tensor.randn(g, 2, 1, 8, 8), sampler, steps, 2.0, NoiseSource.of(g));
                    assertArrayEquals(new long[] {2, 3, 12, 12}, images.shape(), kind + " " + sampler);
                    assertTrue(images.min().item() >= 0 && images.max().item() <= 1, kind + " " + sampler + ": images in [0, 1]");
                }
                if (kind.equals("vp"))
                    assertThrows(IllegalArgumentException.class, () -> model.images(labels, Tensor.randn(g, 2, 1, 8, 8), ScoreSampler.PC, 5, 1.0, NoiseSource.of(g)),
                            "5 steps make VP's corrector step negative");
            }
        }
        assertEquals(before, MemoryStats.liveTensorCount());
    }
}
