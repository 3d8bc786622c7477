package org.panamasd.cli;

import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.distributed.DataParallelRun;
import org.panamasd.training.t2i.TextToImageTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Training throughput of the shipped teacher's configuration (text encoder + UNet, v-prediction, AdamW, EMA,
 * 4x16x16 latents), on random latents so no data preparation is timed:
 * {@code bench-train [--batch 128] [--warmup 3] [--steps 10] [--nproc N [--overlap true] [--bucket-mb 4]]}. Prints images per
 * second (of the global batch, with --nproc) and the machine.
 */
@Command(name = "bench-train", description = {"Training throughput of the shipped teacher's configuration on random latents (images/s).",
        "--nproc N runs it data-parallel in N processes at the same global batch (see train-t2i)."})
final class BenchTrainCommand implements Runnable {
    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--warmup", defaultValue = "3", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--steps", defaultValue = "10", description = "Timed steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--bucket-mb", defaultValue = "4", description = "With --nproc: gradient bucket size in MiB (default: ${DEFAULT-VALUE}).")
    double bucketMb;
    @Option(names = "--overlap", arity = "1", defaultValue = "true", description = "With --nproc: start all-reduces during backward (default: ${DEFAULT-VALUE}).")
    boolean overlap;

    @Override
    public void run() {
        DiffusersConfig scheduler = DiffusersConfig.parse(TrainTextToImageCommand.SCHEDULER);
        try (TextToImageTrainer trainer = new TextToImageTrainer(CLIPTokenizer.load(Paths.goldenTokenizer()),
                DiffusersConfig.parse(TrainTextToImageCommand.TEXT_ENCODER), DiffusersConfig.parse(TrainTextToImageCommand.UNET),
                NoiseSchedule.fromConfig(scheduler), new LearningRateSchedule(1e-4, 0, warmup + steps, 1.0), 0.1, 0.998, 0);
             Generator g = new Generator(0);
             DataParallelRun run = DataParallelRun.join(trainer.parameters(), trainer.emaTensors(),
                     (long) (bucketMb * (1 << 20)), overlap)) {
            long start = 0;
            for (int i = 0; i < warmup + steps; i++) {
                if (i == warmup) {
                    start = System.nanoTime();
                    if (run.ddp() != null) run.ddp().resetTimings();
                }
                try (Scope s = Scope.open()) {
                    long[] labels = Tensor.randint(0, 10, g, batch).toLongArray();
                    trainer.step(Tensor.randn(g, batch, 4, 16, 16), FashionCaptions.random(labels, g), g, run.ddp());
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            if (!run.leader()) return;
            long params = trainer.unet().parameters().values().stream().mapToLong(Tensor::numel).sum();
            System.out.printf("teacher training step, UNet %.2fM parameters, batch %d: %.3f s/step, %.1f img/s (%d steps after %d warm-up)%n",
                    params / 1e6, batch, seconds / steps, batch * steps / seconds, steps, warmup);
            if (run.ddp() != null)
                System.out.printf("%d processes (global batch %d, %d each), %d buckets, %d started during backward: gradient all-reduce %.1f ms/step waited after backward, %.1f ms/step in synchronizeGradients%n",
                        run.worldSize(), batch, batch / run.worldSize(), run.ddp().reducer().buckets(), run.ddp().reducer().startedDuringBackward(),
                        1e3 * run.ddp().meanWaitSeconds(), 1e3 * run.ddp().meanSyncSeconds());
            System.out.println("machine: " + MachineDescription.describe());
        }
    }
}
