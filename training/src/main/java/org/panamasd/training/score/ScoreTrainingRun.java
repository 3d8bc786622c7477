package org.panamasd.training.score;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.ImageFiles;
import org.panamasd.io.ImageGrid;
import org.panamasd.models.unet.ClassConditionalUNet;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.LossCheck;
import org.panamasd.training.LossCurve;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.TrainingCheckpoint;

/**
 * A class-conditional score model trained on Fashion-MNIST (the 28x28 grey images in [-1, 1]) with
 * {@link ScoreTrainer}: resumable checkpoints under {@code out/checkpoint}, the EMA model written to
 * {@code out/model} ({@link ScoreImageModel}'s layout), a loss curve and, unless the grid's steps are 0, a sample grid (4 per class).
 */
public final class ScoreTrainingRun {
    /** A small UNet for 28x28: 32/64/64 channels, 28 -> 14 -> 7, the class token attended to at 7x7 and in the middle block. */
    public static final String UNET = """
            {"_class_name": "UNet2DConditionModel", "sample_size": 28, "in_channels": 1, "out_channels": 1, "block_out_channels": [32, 64, 64],
             "down_block_types": ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"], "layers_per_block": 1,
             "attention_head_dim": 4, "cross_attention_dim": 64, "norm_num_groups": 16}""";

    public record Settings(ScoreModelConfig model, int steps, int batch, double learningRate, int warmup, double emaDecay, double labelDropout,
                           long seed, int checkpointEvery, boolean resume, int images, int gridSteps) {}

    /** Where the run reports (the command's progress bar): the first step it will run (after a resume), then each step. */
    public interface Progress {
        void start(long firstStep);

        void update(long step, long batch, String figures);
    }

    private ScoreTrainingRun() {}

    public static void run(Settings s, Path out, Progress progress) {
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true).first(s.images());
        LearningRateSchedule lr = new LearningRateSchedule(s.learningRate(), s.warmup(), s.steps(), 0.05);
        Path checkpoint = out.resolve("checkpoint");
        try (ClassConditionalUNet network = ClassConditionalUNet.initialize(DiffusersConfig.parse(UNET), FashionMnist.CLASSES.length, s.seed());
             ScoreTrainer trainer = new ScoreTrainer(network::forward, network.parameters(), s.model().objective(), network.nullClass(), lr,
                     s.labelDropout(), s.emaDecay())) {
            long first = 1;
            Path resumeFrom = TrainingCheckpoint.latest(checkpoint);
            if (s.resume() && resumeFrom != null) {
                TrainingCheckpoint.State state = TrainingCheckpoint.load(resumeFrom, trainer.checkpointWeights(), Map.of("adamw", trainer.optimizer()));
                if (state.seed() != s.seed()) throw new IllegalArgumentException(resumeFrom + " was trained with --seed " + state.seed() + ", not " + s.seed());
                trainer.setStepCount(state.step());
                first = state.step() + 1;
                System.out.println("resumed from " + resumeFrom + " at step " + state.step());
            }
            LossCurve curve = new LossCurve();
            progress.start(first);
            for (long step = first; step <= s.steps(); step++) {
                double loss;
                try (Scope scope = Scope.open(); Generator g = StepSeeds.forStep(s.seed(), step)) {
                    int[] indices = data.randomBatch(g, s.batch());
                    loss = LossCheck.finite("denoising score matching", trainer.step(data.images(indices), data.labels(indices), g), step);
                }
                curve.add("DSM loss", step, loss);
                progress.update(step, s.batch(), String.format("loss %.2f  lr %.2e", loss, lr.at(step)));
                if (step % s.checkpointEvery() == 0 || step == s.steps())
                    TrainingCheckpoint.save(checkpoint, new TrainingCheckpoint.State(step, s.seed()), trainer.checkpointWeights(), Map.of("adamw", trainer.optimizer()));
            }
            // a run resumed at or past --steps only writes the model (the curve of its steps is the earlier run's)
            if (first <= s.steps()) curve.write(out.resolve("loss.png"), "train-score " + s.model().kind());
            ScoreImageModel.save(out.resolve("model"), s.model(), network, trainer.emaWeights());
        }
        if (s.gridSteps() > 0) {
            try (ScoreImageModel model = ScoreImageModel.load(out.resolve("model"))) {
                writeGrid(model, s.gridSteps(), s.seed(), out.resolve("samples.png"));
            }
        }
    }

    /** Four samples per class (one class per row), 2x, with the model's default sampler. */
    static void writeGrid(ScoreImageModel model, int steps, long seed, Path file) {
        try (Scope s = Scope.open(); Generator g = new Generator(seed)) {
            int perClass = 4, classes = FashionMnist.CLASSES.length;
            long[] labels = new long[perClass * classes];
            for (int i = 0; i < labels.length; i++) labels[i] = i / perClass;
            ScoreModelConfig c = model.config();
            Tensor noise = Tensor.randn(g, labels.length, c.channels(), c.size(), c.size());
            Tensor images = model.images(Tensor.of(labels, labels.length), noise, ScoreSampler.defaultFor(c), steps, 1.0, NoiseSource.of(g));
            List<Tensor> rows = new ArrayList<>();
            for (int k = 0; k < classes; k++) rows.add(images.narrow(0, (long) k * perClass, perClass));
            ImageFiles.writePng(ImageGrid.of(rows, 2), file);
        }
    }
}
