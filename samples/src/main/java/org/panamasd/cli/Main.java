package org.panamasd.cli;

import java.util.Arrays;

/** The panama-sd command line: {@code panama-sd <command> [options]}. */
public final class Main {
    public static void main(String[] args) throws Exception {
        try {
            run(args);
        } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException | org.panamasd.TorchException e) {
            // bad input or a failed native call: say what, not a stack trace (set PANAMASD_DEBUG for one)
            System.err.println("panama-sd: " + e.getMessage());
            if (System.getenv("PANAMASD_DEBUG") != null) e.printStackTrace();
            System.exit(2);
        }
    }

    private static void run(String[] args) throws Exception {
        String command = args.length == 0 ? "help" : args[0];
        String[] rest = Arrays.copyOfRange(args, Math.min(1, args.length), args.length);
        if (DistributedLauncher.requested(rest)) {
            int status = DistributedLauncher.run(command, rest);
            if (status != 0) System.exit(status);
            return;
        }
        switch (command) {
            case "info" -> InfoCommand.run(rest);
            case "generate" -> GenerateCommand.run(rest);
            case "train-ddpm" -> TrainDdpmCommand.run(rest);
            case "train-vae" -> TrainVaeCommand.run(rest);
            case "train-t2i" -> TrainTextToImageCommand.run(rest);
            case "train-features" -> TrainFeaturesCommand.run(rest);
            case "train-add" -> TrainAddCommand.run(rest);
            case "train-progressive" -> TrainProgressiveCommand.run(rest);
            case "evaluate" -> EvaluateCommand.run(rest);
            case "sample" -> SampleCommand.run(rest);
            case "bench" -> BenchCommand.run(rest);
            case "bench-scheduler" -> BenchSchedulerCommand.run(rest);
            case "bench-train" -> BenchTrainCommand.run(rest);
            case "help", "-h", "--help" -> usage();
            default -> {
                System.err.println("unknown command '" + command + "'");
                usage();
                System.exit(2);
            }
        }
    }

    private static void usage() {
        System.out.println("""
                usage: panama-sd <command>
                  info    libtorch version, BLAS, threads, a few ops and native memory statistics
                  generate --model DIR --prompt TEXT [--steps N] [--guidance G] [--seed S] [--out FILE.png]
                          text to image from a diffusers Stable Diffusion directory
                  train-t2i --vae DIR --out DIR [...] [--nproc N]
                          the Fashion-MNIST teacher; --nproc N trains data-parallel in N processes (several
                          machines: --rank FIRST --world-size ALL --master-addr HOST --master-port PORT)
                  train-ddpm [--steps N] [--batch B] [--lr LR] [--out DIR]
                          a class-conditional DDPM on Fashion-MNIST, saved in diffusers' layout, with samples
                  bench   per-op cost of the bridge against C++ and Python on the same libtorch
                  bench-scheduler   one scheduler step on a 4x64x64 latent against a denoiser forward
                """);
    }

    private Main() {}
}
