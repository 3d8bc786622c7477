package org.panamasd.cli;

import java.nio.file.Path;
import org.panamasd.training.score.ScoreModelConfig;
import org.panamasd.training.score.ScoreTrainingRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Trains a class-conditional score model on Fashion-MNIST by denoising score matching: {@code ncsn} (NCSN's
 * sigma ladder, sampled with annealed Langevin), {@code ve} or {@code vp} (the continuous SDE objectives,
 * sampled with predictor-corrector or the probability-flow ODE); writes {@code out/model} for {@code evaluate}.
 * The work is {@link ScoreTrainingRun}'s; this class only reads the options.
 */
@Command(name = "train-score", description = {"A score model on Fashion-MNIST by denoising score matching: ncsn, ve or vp.",
        "Writes OUT/model (EMA weights) for evaluate, OUT/checkpoint and a loss curve."})
final class TrainScoreCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--sde", required = true, description = "ncsn (sigma ladder), ve or vp.")
    String kind;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the model, checkpoint and loss curve go.")
    Path out;
    @Option(names = "--steps", defaultValue = "1200", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate, cosine decay (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--warmup", defaultValue = "50", description = "Warm-up steps (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--ema", defaultValue = "0.999", description = "EMA decay (default: ${DEFAULT-VALUE}).")
    double ema;
    @Option(names = "--dropout", defaultValue = "0.1", description = "Label dropout, for guidance (default: ${DEFAULT-VALUE}).")
    double dropout;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--likelihood-weighting", defaultValue = "false", arity = "1", description = "lambda = g(t)^2 instead of s(t)^2 (ve, vp).")
    boolean likelihoodWeighting;
    @Option(names = "--sigma-min", defaultValue = "0.01", description = "ncsn, ve: smallest sigma (default: ${DEFAULT-VALUE}).")
    double sigmaMin;
    @Option(names = "--sigma-max", defaultValue = "50", description = "ncsn, ve: largest sigma (default: ${DEFAULT-VALUE}).")
    double sigmaMax;
    @Option(names = "--levels", defaultValue = "100", description = "ncsn: levels of the ladder (default: ${DEFAULT-VALUE}).")
    int levels;
    @Option(names = "--checkpoint-every", defaultValue = "100", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
    int checkpointEvery;
    @Option(names = "--resume", defaultValue = "true", arity = "1", description = "Resume from OUT/checkpoint (default: ${DEFAULT-VALUE}).")
    boolean resume;
    @Option(names = "--grid-steps", description = "Sampling steps of the grid (per level for ncsn); 0: no grid (default: 2 for ncsn, 100 else).")
    Integer gridSteps;
    @Mixin
    TrainingImages images;

    @Override
    public Integer call() {
        ScoreModelConfig model = ScoreModelConfig.defaults(kind).withSigmas(sigmaMin, sigmaMax, levels).withLikelihoodWeighting(likelihoodWeighting);
        int grid = gridSteps != null ? gridSteps : model.isLadder() ? 2 : 100;
        var settings = new ScoreTrainingRun.Settings(model, steps, batch, lr, warmup, ema, dropout, seed, checkpointEvery, resume,
                images.count != null ? images.count : Integer.MAX_VALUE, grid);
        String label = "train-score " + model.kind();
        ScoreTrainingRun.run(settings, out, new ScoreTrainingRun.Progress() {
            private TrainingProgress line;

            @Override
            public void start(long firstStep) {
                line = new TrainingProgress(label, firstStep - 1, steps, 10);  // a resumed run's rate counts only its own steps
            }

            @Override
            public void update(long step, long batchSize, String figures) {
                line.update(step, figures);
            }
        });
        System.out.println("saved " + out.resolve("model").toAbsolutePath() + " (EMA weights), " + out.resolve("loss.png")
                + (grid > 0 ? ", " + out.resolve("samples.png") : ""));
        return 0;
    }
}
