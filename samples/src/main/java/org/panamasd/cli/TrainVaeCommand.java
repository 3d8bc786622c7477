package org.panamasd.cli;

import java.nio.file.Path;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.training.LossCheck;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.vae.VaeTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains the small AutoencoderKL of the Fashion-MNIST text-to-image model (3x32x32 -> 4x16x16) and writes it
 * as a diffusers vae/ component with the scaling factor measured on the data:
 * {@code train-vae [--steps 1500] [--batch 64] [--lr 1e-3] [--kl 1e-4] [--seed 0] --out DIR}.
 */
@Command(name = "train-vae", description = "The small AutoencoderKL of the Fashion-MNIST model (3x32x32 -> 4x16x16), written as a diffusers vae/.")
final class TrainVaeCommand implements Runnable {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where vae/ goes.")
    Path out;
    @Option(names = "--steps", defaultValue = "1500", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--kl", defaultValue = "1e-4", description = "KL weight (default: ${DEFAULT-VALUE}).")
    double kl;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    static final String CONFIG = """
            {"_class_name": "AutoencoderKL", "_diffusers_version": "0.27.2", "act_fn": "silu", "block_out_channels": [16, 32],
             "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
             "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 8,
             "sample_size": 32, "scaling_factor": 1.0, "force_upcast": false}""";

    @Override
    public void run() {
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true);
        DiffusersConfig config = DiffusersConfig.parse(CONFIG);
        try (VaeTrainer trainer = new VaeTrainer(config, lr, kl, seed)) {
            long start = System.nanoTime();
            double rec = 0, klRunning = 0;
            for (int step = 1; step <= steps; step++) {
                try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(seed, step)) {
                    VaeTrainer.Losses l = trainer.step(data.paddedRgb(data.randomBatch(g, batch)), g);
                    LossCheck.finite("reconstruction", l.reconstruction(), step);
                    LossCheck.finite("kl", l.kl(), step);
                    rec = step == 1 ? l.reconstruction() : 0.98 * rec + 0.02 * l.reconstruction();
                    klRunning = step == 1 ? l.kl() : 0.98 * klRunning + 0.02 * l.kl();
                }
                if (step % 50 == 0 || step == steps) {
                    double seconds = (System.nanoTime() - start) / 1e9;
                    System.out.printf("vae step %5d/%d  reconstruction %.3f (per pixel %.5f)  kl %.1f  %.1f img/s%n", step, steps, rec,
                            rec / (3 * 32 * 32), klRunning, (double) step * batch / seconds).flush();
                }
            }
            double scaling;
            try (Scope s = Scope.open(); Generator g = new Generator(seed)) {
                scaling = trainer.scalingFactor(data.paddedRgb(data.randomBatch(g, 1024)));
            }
            String json = config.with("scaling_factor", scaling).toJson();
            ComponentWriter.write(out.resolve("vae"), "config.json", json, "diffusion_pytorch_model.safetensors", trainer.parameters(),
                    DType.FLOAT16, Map.of("format", "pt", "written_by", "panama-sd train-vae"));
            System.out.printf("saved %s (scaling_factor %.5f)%n", out.resolve("vae").toAbsolutePath(), scaling);
        }
    }
}
