package org.panamasd.cli;

import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.t2i.TextToImageTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Training throughput of the shipped teacher's configuration (text encoder + UNet, v-prediction, AdamW, EMA,
 * 4x16x16 latents), on random latents so no data preparation is timed:
 * {@code bench-train [--batch 128] [--warmup 3] [--steps 10]}. Prints images per second and the machine.
 */
@Command(name = "bench-train", description = "Training throughput of the shipped teacher's configuration on random latents (images/s).")
final class BenchTrainCommand implements Runnable {
    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--warmup", defaultValue = "3", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--steps", defaultValue = "10", description = "Timed steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Override
    public void run() {
        DiffusersConfig scheduler = DiffusersConfig.parse(TrainTextToImageCommand.SCHEDULER);
        try (TextToImageTrainer trainer = new TextToImageTrainer(CLIPTokenizer.load(Paths.goldenTokenizer()),
                DiffusersConfig.parse(TrainTextToImageCommand.TEXT_ENCODER), DiffusersConfig.parse(TrainTextToImageCommand.UNET),
                NoiseSchedule.fromConfig(scheduler), new LearningRateSchedule(1e-4, 0, warmup + steps, 1.0), 0.1, 0.998, 0);
             Generator g = new Generator(0)) {
            long start = 0;
            for (int i = 0; i < warmup + steps; i++) {
                if (i == warmup) start = System.nanoTime();
                try (Scope s = Scope.open()) {
                    long[] labels = Tensor.randint(0, 10, g, batch).toLongArray();
                    trainer.step(Tensor.randn(g, batch, 4, 16, 16), FashionCaptions.random(labels, g), g);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long params = trainer.unet().parameters().values().stream().mapToLong(Tensor::numel).sum();
            System.out.printf("teacher training step, UNet %.2fM parameters, batch %d: %.3f s/step, %.1f img/s (%d steps after %d warm-up)%n",
                    params / 1e6, batch, seconds / steps, batch * steps / seconds, steps, warmup);
            System.out.println("machine: " + MachineDescription.describe());
        }
    }
}
