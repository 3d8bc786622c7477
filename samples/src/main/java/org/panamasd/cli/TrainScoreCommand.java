package org.panamasd.cli;

import java.nio.file.Path;
import java.util.Set;
import org.panamasd.training.score.ScoreModelConfig;
import org.panamasd.training.score.ScoreTrainingRun;

/**
 * Trains a class-conditional score model on Fashion-MNIST by denoising score matching: {@code ncsn} (NCSN's
 * sigma ladder, sampled with annealed Langevin), {@code ve} or {@code vp} (the continuous SDE objectives,
 * sampled with predictor-corrector or the probability-flow ODE); writes {@code out/model} for {@code evaluate}:
 * {@code train-score --sde ncsn|ve|vp --out DIR [--steps 1200] [--batch 32] [--lr 1e-3] [--warmup 50] [--ema 0.999]
 * [--dropout 0.1] [--seed 0] [--likelihood-weighting false] [--sigma-min 0.01] [--sigma-max 50] [--levels 100]
 * [--checkpoint-every 100] [--resume true] [--images N] [--grid-steps S]}.
 */
final class TrainScoreCommand {
    static void run(String[] args) {
        Options o = Options.parse("train-score", args, Set.of("sde", "out", "steps", "batch", "lr", "warmup", "ema", "dropout", "seed",
                "likelihood-weighting", "sigma-min", "sigma-max", "levels", "checkpoint-every", "resume", "images", "grid-steps"));
        if (!o.has("sde") || !o.has("out")) throw new IllegalArgumentException("train-score: --sde ncsn|ve|vp and --out DIR are required");
        ScoreModelConfig model = ScoreModelConfig.defaults(o.string("sde", null));
        model = model.withSigmas(o.number("sigma-min", model.sigmaMin()), o.number("sigma-max", model.sigmaMax()), o.integer("levels", model.levels()))
                .withLikelihoodWeighting(Boolean.parseBoolean(o.string("likelihood-weighting", "false")));
        int steps = o.integer("steps", 1200);
        // the grid's steps: per level for NCSN's Langevin (100 levels x 2), predictor steps for PC (x 2 evaluations); 0: no grid
        int gridSteps = o.integer("grid-steps", model.isLadder() ? 2 : 100);
        var settings = new ScoreTrainingRun.Settings(model, steps, o.integer("batch", 32), o.number("lr", 1e-3), o.integer("warmup", 50),
                o.number("ema", 0.999), o.number("dropout", 0.1), o.longValue("seed", 0), o.integer("checkpoint-every", 100),
                Boolean.parseBoolean(o.string("resume", "true")), o.integer("images", Integer.MAX_VALUE), gridSteps);
        Path out = Path.of(o.string("out", null));
        String label = "train-score " + model.kind();
        ScoreTrainingRun.run(settings, out, new ScoreTrainingRun.Progress() {
            private ProgressLine line;

            @Override
            public void start(long firstStep) {
                line = new ProgressLine(label, firstStep - 1, steps, 10);  // a resumed run's rate counts only its own steps
            }

            @Override
            public void update(long step, long batch, String figures) {
                line.update(step, batch, figures);
            }
        });
        System.out.println("saved " + out.resolve("model").toAbsolutePath() + " (EMA weights), " + out.resolve("loss.png")
                + (gridSteps > 0 ? ", " + out.resolve("samples.png") : ""));
    }

    private TrainScoreCommand() {}
}
