package org.panamasd.cli;

import java.util.List;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.schedulers.Schedulers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The cost of one scheduler step on a 1x4x64x64 latent (SD 1.x at 512x512), against one forward pass of a
 * small UNet in the same run: the SD UNet2DConditionModel with block_out_channels (32, 64, 128), one layer per
 * block, cross-attention at 32x32 and 16x16 on a 77x64 context, random weights. An SD 1.x UNet costs
 * hundreds of times more, so the share reported here is an upper bound.
 */
@Command(name = "bench-scheduler", description = "One scheduler step on a 1x4x64x64 latent against one forward pass of a small UNet.")
final class BenchSchedulerCommand implements Runnable {
    private static final String SD_CONFIG = """
            {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1,
             "timestep_spacing": "leading"}""";

    @Parameters(arity = "0..1", paramLabel = "TRAJECTORIES", defaultValue = "20", description = "Trajectories per scheduler (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Override
    public void run() {
        System.out.printf("machine: %d processors, libtorch %s, %d intra-op threads; latent 1x4x64x64 float32, %d trajectories each%n",
                Runtime.getRuntime().availableProcessors(), Torch.version(), Torch.numThreads(), rounds);
        try (Scope scope = Scope.open(); Generator g = new Generator(0)) {
            Tensor latent = Tensor.randn(g, 1, 4, 64, 64);
            Tensor modelOutput = Tensor.randn(g, 1, 4, 64, 64);
            double denoiser = denoiserMicros(g, latent, rounds);
            System.out.printf("%-34s %9.1f us per forward%n", "small UNet", denoiser);
            for (String name : List.of("DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
                    "DPMSolverMultistepScheduler", "LCMScheduler")) {
                double step = stepMicros(name, g, latent, modelOutput, rounds);
                System.out.printf("%-34s %9.1f us per step = %6.2f %% of the UNet forward%n", name, step, 100 * step / denoiser);
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

    private static final String SMALL_UNET = """
            {"block_out_channels": [32, 64, 128], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1,
             "attention_head_dim": 4, "cross_attention_dim": 64, "norm_num_groups": 32}""";

    private static double denoiserMicros(Generator g, Tensor latent, int repeats) {
        try (UNet2DConditionModel unet = UNet2DConditionModel.initialize(DiffusersConfig.parse(SMALL_UNET), 0);
             Scope inputs = Scope.open()) {
            Tensor context = Tensor.randn(g, 1, 77, 64);
            long total = 0;
            for (int r = 0; r < repeats + 2; r++) {
                try (Scope step = Scope.open(); var noGrad = Autograd.inferenceMode()) {
                    long start = System.nanoTime();
                    unet.forward(latent, 500, context);
                    if (r >= 2) total += System.nanoTime() - start;
                }
            }
            return total / 1000.0 / repeats;
        }
    }
}
