package org.panamasd.cli;

import java.nio.file.Path;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.ImageFiles;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.DDIMScheduler;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.PredictionType;
import org.panamasd.training.DdpmTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains a small class-conditional UNet on Fashion-MNIST with DDPM's loss, saves it in diffusers' layout and
 * samples one image per class with DDIM and classifier-free guidance:
 * {@code train-ddpm [--steps 2000] [--batch 32] [--lr 1e-3] [--seed 0] [--out runs/ddpm]}.
 */
@Command(name = "train-ddpm", description = "A small class-conditional DDPM on Fashion-MNIST, saved in diffusers' layout, with one DDIM sample per class.")
final class TrainDdpmCommand implements Runnable {
    @Option(names = "--steps", defaultValue = "2000", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "1e-3", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--out", defaultValue = "runs/ddpm", paramLabel = "DIR", description = "Where the model and samples go (default: ${DEFAULT-VALUE}).")
    Path out;

    static final String UNET = """
            {"in_channels": 1, "out_channels": 1, "block_out_channels": [32, 64, 64],
             "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1,
             "attention_head_dim": 4, "cross_attention_dim": 64, "norm_num_groups": 16}""";

    @Override
    public void run() {
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true);
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"beta_schedule\": \"squaredcos_cap_v2\"}"));
        try (DdpmTrainer trainer = new DdpmTrainer(DiffusersConfig.parse(UNET), schedule, PredictionType.EPSILON, 10,
                lr, 0.1, seed);
             Generator g = new Generator(seed)) {
            long start = System.nanoTime();
            double running = 0;
            for (int step = 1; step <= steps; step++) {
                try (Scope s = Scope.open()) {
                    int[] indices = data.randomBatch(g, batch);
                    double loss = trainer.step(data.images(indices), data.labels(indices), g);
                    running = step == 1 ? loss : 0.98 * running + 0.02 * loss;
                }
                if (step % 50 == 0 || step == steps)
                    System.out.printf("step %5d  loss %.4f  %.2f s/step%n", step, running, (System.nanoTime() - start) / 1e9 / step).flush();
            }
            trainer.save(out);
            Path grid = out.resolve("samples.png");
            sampleGrid(trainer, schedule, g, grid);
            System.out.println("saved " + out.toAbsolutePath() + " (diffusers unet/, class_embedding.safetensors) and " + grid);
        }
    }

    /** One sample per class: DDIM, 50 steps, guidance 3 against the null class. */
    static void sampleGrid(DdpmTrainer trainer, NoiseSchedule schedule, Generator g, Path file) {
        try (Scope scope = Scope.open(); var inference = Autograd.inferenceMode();
             DDIMScheduler ddim = new DDIMScheduler(DiffusersConfig.parse("{\"beta_schedule\": \"squaredcos_cap_v2\", \"timestep_spacing\": \"trailing\", \"clip_sample\": true}"))) {
            long[] classes = new long[20];
            for (int i = 0; i < 20; i++) classes[i] = i < 10 ? i : trainer.nullClass();
            Tensor context = trainer.context(Tensor.of(classes, 20));
            ddim.setTimesteps(50);
            Tensor x = Tensor.randn(g, 10, 1, 28, 28);
            for (double t : ddim.timesteps()) {
                try (Scope step = Scope.open()) {
                    Tensor out = trainer.unet().forward(Tensor.cat(0, x, x), t, context);
                    Tensor[] halves = out.chunk(2, 0);
                    Tensor guided = ClassifierFreeGuidance.combine(halves[1], halves[0], 3.0);
                    x = ddim.step(guided, t, x, NoiseSource.of(g)).prevSample().moveToParent();
                }
            }
            // 10 images side by side: (1, 3, 28, 280) in [0, 1]
            Tensor row = Tensor.cat(3, x.chunk(10, 0)).add(1).div(2).clamp(0, 1).repeat(1, 3, 1, 1);
            ImageFiles.writePng(row, file);
        }
    }
}
