package org.panamasd.cli;

import org.panamasd.io.DiffusersConfig;
import java.util.List;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.schedulers.Schedulers;

/**
 * The cost of one scheduler step on a 1x4x64x64 latent (SD 1.x at 512x512), against one forward pass of a
 * denoiser in the same run. Until the SD UNet lands the denoiser is the smallest UNet-shaped network:
 * conv_in 4->32, one ResNet block (GroupNorm, SiLU, 3x3 conv, twice) and conv_out 32->4 at 64x64. Every real
 * UNet costs more than that, so the share reported here is an upper bound.
 */
final class BenchSchedulerCommand {
    private static final String SD_CONFIG = """
            {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1,
             "timestep_spacing": "leading"}""";

    static void run(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        System.out.printf("machine: %d processors, libtorch %s, %d intra-op threads; latent 1x4x64x64 float32, %d trajectories each%n",
                Runtime.getRuntime().availableProcessors(), Torch.version(), Torch.numThreads(), rounds);
        try (Scope scope = Scope.open(); Generator g = new Generator(0)) {
            Tensor latent = Tensor.randn(g, 1, 4, 64, 64);
            Tensor modelOutput = Tensor.randn(g, 1, 4, 64, 64);
            double denoiser = denoiserMicros(g, latent, rounds * 10);
            System.out.printf("%-34s %9.1f us per forward%n", "denoiser (UNet lower bound)", denoiser);
            for (String name : List.of("DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
                    "DPMSolverMultistepScheduler", "LCMScheduler")) {
                double step = stepMicros(name, g, latent, modelOutput, rounds);
                System.out.printf("%-34s %9.1f us per step = %5.1f %% of the denoiser%n", name, step, 100 * step / denoiser);
            }
        }
    }

    private static double stepMicros(String name, Generator g, Tensor latent, Tensor modelOutput, int rounds) {
        int steps = name.equals("LCMScheduler") ? 4 : 50;
        long total = 0, count = 0;
        try (Scheduler scheduler = Schedulers.create(name, DiffusersConfig.parse(SD_CONFIG))) {
            for (int r = 0; r < rounds + 2; r++) {
                scheduler.setTimesteps(steps);
                Tensor x = latent;
                for (double t : scheduler.timesteps()) {
                    try (Scope step = Scope.open()) {
                        long start = System.nanoTime();
                        scheduler.scaleModelInput(x, t);  // part of every step's work
                        Tensor next = scheduler.step(modelOutput, t, x, NoiseSource.of(g)).prevSample();
                        long elapsed = System.nanoTime() - start;
                        if (r >= 2) {  // the first two trajectories warm up the JIT
                            total += elapsed;
                            count++;
                        }
                        x = next.moveToParent();
                    }
                }
            }
        }
        return total / 1000.0 / count;
    }

    private static double denoiserMicros(Generator g, Tensor latent, int repeats) {
        try (Scope weights = Scope.open()) {
            Tensor convIn = Tensor.randn(g, 32, 4, 3, 3).mul(0.1), conv1 = Tensor.randn(g, 32, 32, 3, 3).mul(0.05);
            Tensor conv2 = Tensor.randn(g, 32, 32, 3, 3).mul(0.05), convOut = Tensor.randn(g, 4, 32, 3, 3).mul(0.05);
            long total = 0;
            for (int r = 0; r < repeats + 3; r++) {
                try (Scope step = Scope.open()) {
                    long start = System.nanoTime();
                    Tensor h = Functional.conv2d(latent, convIn, null, 1, 1);
                    Tensor residual = Functional.conv2d(Functional.groupNorm(h, 8, null, null, 1e-5).silu(), conv1, null, 1, 1);
                    residual = Functional.conv2d(Functional.groupNorm(residual, 8, null, null, 1e-5).silu(), conv2, null, 1, 1);
                    Tensor out = Functional.conv2d(Functional.groupNorm(h.add(residual), 8, null, null, 1e-5).silu(), convOut, null, 1, 1);
                    out.sum().item();
                    if (r >= 3) total += System.nanoTime() - start;
                }
            }
            return total / 1000.0 / repeats;
        }
    }

    private BenchSchedulerCommand() {}
}
