package org.panamasd.cli;

import java.nio.file.Path;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.PredictionType;
import org.panamasd.training.LossCheck;
import org.panamasd.training.LossCurve;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.add.AddTrainer;
import org.panamasd.training.progressive.ProgressiveDistillationTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Progressive distillation as ADD's baseline: starting from the teacher's guided DDIM with {@code --from} steps,
 * each round halves the step count (a student learns two of its teacher's steps in one, then becomes the next
 * round's teacher), writing each round's EMA student as a diffusers directory beside the teacher's shared parts:
 * {@code train-progressive --teacher DIR --out DIR [--from 8] [--to 1] [--steps 150] [--batch 32] [--lr 1e-4]
 * [--guidance 3] [--seed 0]}.
 */
@Command(name = "train-progressive", description = {"Progressive distillation, ADD's baseline: each round halves the teacher's DDIM steps.",
        "Writes each round's EMA student as a diffusers directory."})
final class TrainProgressiveCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--teacher", required = true, paramLabel = "DIR", description = "The teacher: a diffusers pipeline directory.")
    Path teacherDir;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the students and the loss curve go.")
    Path out;
    @Option(names = "--from", defaultValue = "8", description = "The teacher's step count, a power of two >= 2 (default: ${DEFAULT-VALUE}).")
    int from;
    @Option(names = "--to", defaultValue = "1", description = "The last student's step count (default: ${DEFAULT-VALUE}).")
    int to;
    @Option(names = "--steps", defaultValue = "150", description = "Training steps per round (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "1e-4", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--guidance", defaultValue = "3", description = "The first teacher's guidance (default: ${DEFAULT-VALUE}).")
    double guidance;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Mixin
    TrainingImages images;

    @Override
    public Integer call() throws Exception {
        if (from < 2 || Integer.bitCount(from) != 1 || to < 1 || to >= from)
            throw new IllegalArgumentException("--from must be a power of two >= 2 and --to in [1, from), got " + from + " and " + to);
        FashionMnist data = images.load();
        DiffusersConfig schedulerConfig = DiffusersConfig.read(teacherDir.resolve("scheduler/scheduler_config.json"));
        DiffusersConfig unetConfig = DiffusersConfig.read(teacherDir.resolve("unet/config.json"));
        NoiseSchedule schedule = NoiseSchedule.fromConfig(schedulerConfig);
        PredictionType prediction = PredictionType.fromConfigName(schedulerConfig.string("prediction_type", "epsilon"));
        CLIPTokenizer tokenizer = CLIPTokenizer.load(teacherDir.resolve("tokenizer"));
        LossCurve curve = new LossCurve();
        try (Scope run = Scope.open(); CLIPTextModel textEncoder = CLIPTextModel.load(teacherDir.resolve("text_encoder"));
             UNet2DConditionModel loaded = UNet2DConditionModel.load(teacherDir.resolve("unet"));
             UNet2DConditionModel teacher = UNet2DConditionModel.initialize(unetConfig, seed);
             UNet2DConditionModel student = UNet2DConditionModel.initialize(unetConfig, seed + 1)) {
            TrainAddCommand.copyWeights(loaded.parameters(), teacher.parameters());
            Tensor latents = TrainTextToImageCommand.encodeAll(teacherDir.resolve("vae"), data);
            String[] empty = new String[batch];
            java.util.Arrays.fill(empty, "");
            long global = 0;
            for (int n = from / 2; n >= to; n /= 2) {
                boolean first = n == from / 2;
                TrainAddCommand.copyWeights(teacher.parameters(), student.parameters());
                AddTrainer.Denoiser studentX0 = (x, t, c) -> schedule.originalSample(prediction, student.forward(x, Tensor.of(t, t.length), c, null, null), x, t);
                AddTrainer.Denoiser teacherX0 = (x, t, c) -> schedule.originalSample(prediction, teacher.forward(x, Tensor.of(t, t.length), c, null, null), x, t);
                // the first round distils the guided teacher; later students are unguided, as their teachers
                try (ProgressiveDistillationTrainer trainer = new ProgressiveDistillationTrainer(studentX0, student.parameters(), teacherX0, schedule, n,
                        first ? guidance : 1.0, lr, 0.99)) {
                    TrainingProgress progress = new TrainingProgress("progressive " + 2 * n + "->" + n, 0, steps, 10);
                    for (int step = 1; step <= steps; step++) {
                        global++;
                        double loss;
                        try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(seed + n, step)) {
                            int[] idx = data.randomBatch(g, batch);
                            Tensor x0 = latents.indexSelect(0, Tensor.of(java.util.Arrays.stream(idx).asLongStream().toArray(), batch));
                            String[] captions = FashionCaptions.random(data.labels(idx).toLongArray(), g);
                            Tensor context, uncond;
                            try (var frozen = Autograd.noGrad()) {
                                context = textEncoder.forward(TrainAddCommand.ids(tokenizer, captions, textEncoder)).lastHiddenState();
                                uncond = textEncoder.forward(TrainAddCommand.ids(tokenizer, empty, textEncoder)).lastHiddenState();
                            }
                            loss = LossCheck.finite("progressive distillation", trainer.step(x0, context, uncond, g), step);
                        }
                        curve.add("round " + n + " steps", global, loss);
                        progress.update(step, String.format("loss %.4f", loss));
                    }
                    TrainAddCommand.writeStudent(out.resolve("student-" + n), teacherDir, schedulerConfig, unetConfig, trainer.studentEma(), DType.FLOAT16,
                            String.format("{\"num_inference_steps\": %d, \"guidance_scale\": 0.0, \"height\": 32, \"width\": 32, \"upscale\": 8}%n", n));
                    TrainAddCommand.copyWeights(trainer.studentEma(), teacher.parameters());  // the next round's teacher
                }
            }
        }
        curve.write(out.resolve("progressive-loss.png"), "train-progressive");
        System.out.println("saved the progressive students under " + out.toAbsolutePath());
        return 0;
    }
}
