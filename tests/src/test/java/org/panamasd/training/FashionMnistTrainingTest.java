package org.panamasd.training;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.PredictionType;
import org.panamasd.support.NativeTest;

/**
 * Real-data training (opt-in: mvn -Pslow): 200 DDPM steps on Fashion-MNIST bring the epsilon loss from about
 * 1 (a model that predicts nothing) well below 0.3; measured here at about 0.16 after 200 steps of batch 32.
 */
@Tag("slow")
class FashionMnistTrainingTest extends NativeTest {

    @Test
    void twoHundredStepsLearnToDenoise() {
        Assumptions.assumeTrue(Files.exists(FashionMnist.DEBIAN_DIRECTORY.resolve("train-images-idx3-ubyte.gz")), "needs Debian's dataset-fashion-mnist");
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true);
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"beta_schedule\": \"squaredcos_cap_v2\"}"));
        String unet = """
                {"in_channels": 1, "out_channels": 1, "block_out_channels": [32, 64, 64],
                 "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1,
                 "attention_head_dim": 4, "cross_attention_dim": 64, "norm_num_groups": 16}""";
        try (DdpmTrainer trainer = new DdpmTrainer(DiffusersConfig.parse(unet), schedule, PredictionType.EPSILON, 10, 1e-3, 0.1, 0);
             Generator g = new Generator(0)) {
            double first = 0, running = 0;
            for (int step = 1; step <= 200; step++) {
                try (Scope scope = Scope.open()) {
                    int[] batch = data.randomBatch(g, 32);
                    double loss = trainer.step(data.images(batch), data.labels(batch), g);
                    if (step <= 10) first += loss / 10;
                    running = step == 1 ? loss : 0.95 * running + 0.05 * loss;
                }
            }
            assertTrue(first > 0.5, "the untrained loss is near 1: " + first);
            assertTrue(running < 0.3, "loss after 200 steps: " + running + " (from " + first + ")");
        }
    }
}
