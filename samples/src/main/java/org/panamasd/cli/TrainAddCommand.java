package org.panamasd.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.io.PipelineDirectoryWriter;
import org.panamasd.training.lora.TrainableLora;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.dinov2.Dinov2Classifier;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.PredictionType;
import org.panamasd.training.LossCheck;
import org.panamasd.training.LossCurve;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.TrainedParameters;
import org.panamasd.training.TrainingCheckpoint;
import org.panamasd.training.add.AddConfig;
import org.panamasd.training.add.AddTrainer;
import org.panamasd.training.add.DiscriminatorLog;
import org.panamasd.training.add.DiscriminatorProbe;
import org.panamasd.training.add.DiscriminatorTrainer;
import org.panamasd.training.add.DistillationWeighting;
import org.panamasd.training.add.HeadGroups;
import org.panamasd.training.add.HeadNorm;
import org.panamasd.training.add.StudentScheduler;
import org.panamasd.training.add.ProjectedDiscriminator;
import org.panamasd.training.add.RegressionPairs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Distils a Turbo student from a text-to-image teacher directory with ADD, against a frozen feature network,
 * and writes the student (EMA and raw) as diffusers directories that share the teacher's tokenizer, text
 * encoder and VAE ({@code --help} lists the options). Every {@code --monitor-every} steps the discriminator is
 * judged on held-out images ({@code discriminator.tsv}, {@code add-discriminator.png}); {@code --probe-discriminator
 * STEPS} trains the heads alone against the frozen student and says whether they see.
 */
@Command(name = "train-add", sortOptions = false, description = {"Distils a Turbo student from a text-to-image teacher with ADD.",
        "Against a frozen feature network; writes the EMA and raw students as diffusers directories; resumes from DIR/checkpoint."})
final class TrainAddCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--teacher", required = true, paramLabel = "DIR", description = "The teacher: a diffusers pipeline directory.")
    Path teacherDir;
    @Option(names = "--features", required = true, paramLabel = "DIR", description = "The frozen feature network (train-features' feature-net).")
    Path featuresDir;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where checkpoints, students and the loss curve go.")
    Path out;
    @Option(names = "--steps", defaultValue = "400", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--lambda", description = "Distillation weight (default: 2.5).")
    Double lambda;
    @Option(names = "--gamma", defaultValue = "1", description = "R1 weight (default: ${DEFAULT-VALUE}).")
    double gamma;
    @Option(names = "--weighting", defaultValue = "exponential", paramLabel = "exponential|sds|uniform|nfsd", description = "Distillation weighting c(t); nfsd also takes NFSD's noise-free target (default: ${DEFAULT-VALUE}).")
    String weighting;
    @Option(names = "--teacher-guidance", description = "Guidance of the teacher's target (default: 3).")
    Double teacherGuidance;
    @Option(names = "--lr", defaultValue = "5e-5", description = "Student learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--d-lr", defaultValue = "1e-4", description = "Discriminator learning rate (default: ${DEFAULT-VALUE}).")
    double discriminatorLr;
    @Option(names = "--ema", description = "Student EMA decay (default: 0.99).")
    Double ema;
    @Option(names = "--head-norm", defaultValue = "local", paramLabel = "local|skip-first|none",
            description = "Where the discriminator heads normalise: StyleGAN-T's BatchNormLocal after both blocks, not after the first, or nowhere (default: ${DEFAULT-VALUE}).")
    String headNorm;
    @Option(names = "--head-groups", defaultValue = "separate", paramLabel = "separate|mixed", description = {"Whether the heads see real and generated",
            "images in passes of their own (StyleGAN-T) or alternating in one, so every norm group holds both (default: ${DEFAULT-VALUE})."})
    String headGroups;
    @Option(names = "--regression-weight", defaultValue = "0", paramLabel = "W", description = {"Weight of DMD's regression of the student's one-step samples",
            "on the teacher's DDIM samples from the same noises (OUT/regression-pairs.safetensors); 0: none, as the paper's ADD (default: ${DEFAULT-VALUE})."})
    double regressionWeight;
    @Option(names = "--regression-pairs", defaultValue = "2048", paramLabel = "N", description = "Noise/teacher-sample pairs for --regression-weight, classes in turn (default: ${DEFAULT-VALUE}).")
    int regressionPairs;
    @Option(names = "--regression-steps", defaultValue = "16", paramLabel = "K", description = "The teacher's DDIM steps for each pair, at --teacher-guidance (default: ${DEFAULT-VALUE}).")
    int regressionSteps;
    @Option(names = "--regression-batch", defaultValue = "16", paramLabel = "R", description = "Pairs per student step (default: ${DEFAULT-VALUE}).")
    int regressionBatch;
    @Option(names = "--d-steps", defaultValue = "1", description = "Discriminator steps per student step (default: ${DEFAULT-VALUE}).")
    int discriminatorSteps;
    @Option(names = "--d-warmup", defaultValue = "0", paramLabel = "N", description = "First N iterations train the discriminator only, the student frozen (default: ${DEFAULT-VALUE}).")
    int discriminatorWarmup;
    @Option(names = "--augment", arity = "1", defaultValue = "true", description = "DiffAugment on the discriminator's inputs (default: ${DEFAULT-VALUE}).")
    boolean augment;
    @Option(names = "--monitor-every", defaultValue = "25", paramLabel = "N",
            description = "Every N steps, judge 256 held-out images (128 real test images, 128 of the student's) and plot it (default: ${DEFAULT-VALUE}).")
    int monitorEvery;
    @Option(names = "--probe-discriminator", paramLabel = "STEPS",
            description = "Instead of training: train the heads alone for STEPS steps against the student frozen at the teacher, and report whether they see.")
    Integer probeSteps;
    @Option(names = "--evaluate-every", defaultValue = "0", paramLabel = "N", description = {"Every N steps, score the EMA student at 1 step with --evaluator",
            "(OUT/evaluation.tsv, add-evaluation.png) and keep the best by FID as OUT/model-best; 0: never (default: ${DEFAULT-VALUE})."})
    int evaluateEvery;
    @Option(names = "--evaluator", defaultValue = "models/fashion-evaluator", paramLabel = "DIR", description = "The evaluator for --evaluate-every (default: ${DEFAULT-VALUE}).")
    Path evaluatorDir;
    @Option(names = "--evaluate-per-class", defaultValue = "50", paramLabel = "N", description = "Samples per class for --evaluate-every (default: ${DEFAULT-VALUE}).")
    int evaluatePerClass;
    @Option(names = "--checkpoint-every", defaultValue = "50", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
    int every;
    @Option(names = "--resume", arity = "1", defaultValue = "true", description = "Continue from the latest checkpoint if there is one (default: ${DEFAULT-VALUE}).")
    boolean resume;
    @Mixin
    TrainingImages images;
    @Option(names = "--lora-rank", paramLabel = "R", description = {"Train the student as a LoRA of rank R on the teacher's UNet attention projections",
            "(as LCM-LoRA ships): OUT/pytorch_lora_weights.safetensors is the EMA student as an adapter for generate --model TEACHER --lora."})
    Integer loraRank;
    @Option(names = "--timings", arity = "1", defaultValue = "false", description = "Print the time per part of a step (default: ${DEFAULT-VALUE}).")
    boolean timings;

    /** Heads on the patch embedding and on layers spread over the ViT (of its depth L: L/3, 2L/3, L). */
    static int[] headLayers(int depth) {
        return new int[] {0, Math.max(1, depth / 3), Math.max(1, 2 * depth / 3), depth};
    }

    @Override
    public Integer call() throws Exception {
        Path checkpoint = out.resolve("checkpoint");
        AddConfig defaults = AddConfig.defaults();
        AddConfig config = new AddConfig(defaults.studentTimesteps(), lambda != null ? lambda : defaults.lambda(),
                DistillationWeighting.fromName(weighting), teacherGuidance != null ? teacherGuidance : defaults.teacherGuidance(), lr,
                ema != null ? ema : defaults.emaDecay(), discriminatorSteps, discriminatorWarmup, regressionWeight);
        HeadNorm norm = HeadNorm.fromName(headNorm);
        HeadGroups groups = HeadGroups.fromName(headGroups);
        if (monitorEvery < 1) throw new IllegalArgumentException("--monitor-every must be >= 1, got " + monitorEvery);
        if (evaluateEvery < 0) throw new IllegalArgumentException("--evaluate-every must be >= 0, got " + evaluateEvery);
        if (evaluatePerClass < 1) throw new IllegalArgumentException("--evaluate-per-class must be >= 1, got " + evaluatePerClass);
        if (regressionWeight > 0 && (regressionPairs < 1 || regressionBatch < 1))
            throw new IllegalArgumentException("--regression-pairs and --regression-batch must be >= 1, got " + regressionPairs + " and " + regressionBatch);

        FashionMnist data = images.load();
        FashionMnist heldOutData = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false).first(HELD_OUT);
        DiffusersConfig schedulerConfig = DiffusersConfig.read(teacherDir.resolve("scheduler/scheduler_config.json"));
        NoiseSchedule schedule = NoiseSchedule.fromConfig(schedulerConfig);
        PredictionType prediction = PredictionType.fromConfigName(schedulerConfig.string("prediction_type", "epsilon"));
        DiffusersConfig unetConfig = DiffusersConfig.read(teacherDir.resolve("unet/config.json"));
        CLIPTokenizer tokenizer = CLIPTokenizer.load(teacherDir.resolve("tokenizer"));
        try (Scope run = Scope.open();
             CLIPTextModel textEncoder = CLIPTextModel.load(teacherDir.resolve("text_encoder"));
             UNet2DConditionModel teacher = UNet2DConditionModel.load(teacherDir.resolve("unet"));
             UNet2DConditionModel student = UNet2DConditionModel.initialize(unetConfig, seed);
             TrainableLora lora = startFrom(teacher, student);
             AutoencoderKL vae = AutoencoderKL.load(teacherDir.resolve("vae"));
             Dinov2Classifier features = Dinov2Classifier.load(featuresDir).freeze()) {
            TrainedParameters trained = lora != null ? lora : TrainedParameters.weights(student.parameters());
            // the UNet weights a set of trained parameters (the EMA's or the raw ones) makes: a LoRA's are fused into the student first
            java.util.function.Function<Map<String, Tensor>, Map<String, Tensor>> unetWeights = lora == null ? p -> p : p -> {
                lora.applyWeights(p);
                return student.parameters();
            };
            DType storage = lora == null ? DType.FLOAT16 : DType.FLOAT32;  // a LoRA student's UNet equals the teacher with its adapter fused
            int width = features.backbone().config().hiddenSize(), depth = features.backbone().config().layers();
            long textWidth = textEncoder.config().hiddenSize();
            Tensor latents = TrainTextToImageCommand.encodeAll(teacherDir.resolve("vae"), data);
            Tensor heldOutLatents = TrainTextToImageCommand.encodeAll(teacherDir.resolve("vae"), heldOutData);
            AddTrainer.Denoiser studentDenoiser = (x, t, c) -> schedule.originalSample(prediction, student.forward(x, Tensor.of(t, t.length), c, null, null), x, t);
            AddTrainer.Denoiser teacherDenoiser = (x, t, c) -> schedule.originalSample(prediction, teacher.forward(x, Tensor.of(t, t.length), c, null, null), x, t);
            AddDraws draws = new AddDraws(tokenizer, textEncoder, vae, schedule, config);
            try (ProjectedDiscriminator discriminator = new ProjectedDiscriminator(headLayers(depth), width, textWidth, 64, norm, seed + 7);
                 DiscriminatorTrainer heads = new DiscriminatorTrainer(discriminator, image -> features.forward(image).hiddenStates(), discriminatorLr, gamma, augment,
                         groups)) {
                if (probeSteps != null) return probe(draws, data, latents, heldOutData, heldOutLatents, studentDenoiser, heads);
                RegressionPairs pairs = regressionWeight > 0
                        ? regressionPairs(tokenizer, textEncoder, teacherDenoiser, schedule, config.teacherGuidance(), latents) : null;
                try (AddTrainer trainer = new AddTrainer(config, studentDenoiser, trained, teacherDenoiser,
                        z -> vae.decode(vae.unscaleLatents(z)), heads, schedule)) {
                    Map<String, Map<String, Tensor>> state = new LinkedHashMap<>();
                    state.put("student", trained.parameters());
                    state.put("student_ema", trainer.studentEma());
                    state.put("discriminator", discriminator.namedParameters());
                    state.put("discriminator_buffers", discriminator.buffers());
                    Map<String, org.panamasd.optim.Optimizer> optimizers = Map.of("student", trainer.studentOptimizer(), "discriminator", heads.optimizer());
                    long first = 1;
                    Path resumeFrom = TrainingCheckpoint.latest(checkpoint);
                    if (resume && resumeFrom != null) {
                        TrainingCheckpoint.State s = TrainingCheckpoint.load(resumeFrom, state, optimizers);
                        trainer.setStepCount(s.step());
                        first = s.step() + 1;
                        System.out.println("resumed from " + resumeFrom + " at step " + s.step());
                    }
                    DiscriminatorLog monitor = new DiscriminatorLog(out.resolve("discriminator.tsv"), first);
                    DiffusersConfig ancestral = StudentScheduler.of(schedulerConfig, config.studentTimesteps());  // fresh noise between steps, as ADD samples
                    StudentEvaluation evaluation = evaluateEvery > 0
                            ? new StudentEvaluation(evaluatorDir, out, first, tokenizer, textEncoder, student, vae, ancestral, evaluatePerClass, seed + 202) : null;
                    LossCurve curve = new LossCurve();
                    TrainingProgress progress = new TrainingProgress("train-add", first - 1, steps, 10);
                    for (long step = first; step <= steps; step++) {
                        AddTrainer.Losses l;
                        try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(seed, step)) {
                            AddTrainer.Batch b = draws.batch(data, latents, data.randomBatch(g, batch), g);
                            if (step == first + 2) trainer.resetTimings();  // the first steps warm up
                            l = trainer.step(b, pairs != null ? pairs.draw(regressionBatch, g) : null, g);
                        }
                        if (l.studentTrained()) {
                            LossCheck.finite("generator", l.generator(), step);
                            LossCheck.finite("distillation", l.distillation(), step);
                            curve.add("G adversarial", step, l.generator());
                            curve.add("distillation", step, l.distillation());
                            if (pairs != null) {
                                LossCheck.finite("regression", l.regression(), step);
                                curve.add("regression", step, l.regression());
                            }
                        }
                        LossCheck.finite("discriminator", l.discriminatorReal() + l.discriminatorFake(), step);
                        LossCheck.finite("r1", l.r1(), step);
                        curve.add("D hinge", step, l.discriminatorReal() + l.discriminatorFake());
                        curve.add("R1", step, l.r1());
                        progress.update(step, String.format("G %.3f  distill %.4f%s  D %.3f/%.3f  R1 %.4f  D acc %.2f", l.generator(),
                                l.distillation(), pairs != null ? String.format("  reg %.4f", l.regression()) : "", l.discriminatorReal(), l.discriminatorFake(), l.r1(), l.discriminatorBatch().accuracy()));
                        if (step % monitorEvery == 0 || step == steps) {
                            try (Scope s = Scope.open()) {
                                trained.beforeForward();  // a LoRA student's weights follow its last update
                                DiscriminatorProbe.Images heldOut = draws.heldOut(heldOutData, heldOutLatents, HELD_OUT, batch, studentDenoiser, seed + 101);
                                monitor.add(step, l.discriminatorBatch(), heads.judge(heldOut.real(), heldOut.fake(), heldOut.condition(), batch));
                            }
                        }
                        if (evaluation != null && l.studentTrained() && (step % evaluateEvery == 0 || step == steps)
                                && evaluation.score(step, unetWeights.apply(trainer.studentEma()))) {  // the best so far by the evaluator's FID
                            writeStudent(out.resolve("model-best"), teacherDir, ancestral, unetConfig, unetWeights.apply(trainer.studentEma()), storage,
                                    GenerationDefaults.TURBO_JSON);
                            StudentEvaluation.writeBestStep(out.resolve("model-best"), step);
                        }
                        if (step % every == 0 || step == steps) TrainingCheckpoint.save(checkpoint, new TrainingCheckpoint.State(step, seed), state, optimizers);
                    }
                    if (evaluation != null) {
                        evaluation.plot(out.resolve("add-evaluation.png"));
                        evaluation.close();
                    }
                    if (first <= steps) curve.write(out.resolve("add-loss.png"), "train-add");  // a resume that only writes the students keeps the last curve
                    monitor.plot(out.resolve("add-discriminator.png"), "train-add: discriminator logits and accuracy");
                    if (timings) printTimings(trainer.partNanos(), steps - first - 1, batch);
                    if (lora != null) lora.write(trainer.studentEma(), out.resolve(TrainTextToImageCommand.LORA_FILE));
                    writeStudent(out.resolve("model"), teacherDir, ancestral, unetConfig, unetWeights.apply(trainer.studentEma()), storage, GenerationDefaults.TURBO_JSON);
                    writeStudent(out.resolve("model-raw"), teacherDir, ancestral, unetConfig, unetWeights.apply(trained.parameters()), storage,
                            GenerationDefaults.TURBO_JSON);
                }
            }
        }
        if (loraRank != null)
            System.out.println("saved " + out.resolve(TrainTextToImageCommand.LORA_FILE).toAbsolutePath() + " (the EMA student as a LoRA on the teacher's UNet; "
                    + "generate --model " + teacherDir + " --lora FILE --scheduler LCMScheduler --steps 1 --guidance 0)");
        System.out.println("saved " + out.resolve("model").toAbsolutePath() + " (EMA student) and " + out.resolve("model-raw") + " (raw student)");
        return 0;
    }

    /**
     * The regression pairs of this run: OUT/regression-pairs.safetensors when it holds pairs made by the same
     * teacher with the same count, steps, guidance and latent shape, else drawn (seeded by --seed; classes in turn, captions in random phrasings) and
     * written there, so a resumed run regresses on the same pairs without drawing them again.
     */
    private RegressionPairs regressionPairs(CLIPTokenizer tokenizer, CLIPTextModel textEncoder, AddTrainer.Denoiser teacher, NoiseSchedule schedule,
                                            double guidance, Tensor latents) {
        Path file = out.resolve("regression-pairs.safetensors");
        String source = teacherDir.toAbsolutePath().normalize().toString();
        long[] shape = latents.shape().clone();
        shape[0] = regressionPairs;
        if (java.nio.file.Files.exists(file)) {
            RegressionPairs saved = null;
            try {
                saved = RegressionPairs.load(file);
            } catch (IllegalArgumentException unreadable) {
                System.out.println("regression pairs in " + file + " cannot be used (" + unreadable.getMessage() + "): drawing them again");
            }
            if (saved != null && saved.madeBy(source, regressionPairs, regressionSteps, guidance, shape)) {
                System.out.println("regression pairs: " + saved.size() + " from " + file);
                return saved;
            }
            if (saved != null) {
                System.out.printf("regression pairs in %s were made by %s with %d pairs, %d steps, guidance %s: drawing them again%n", file, saved.source(),
                        saved.size(), saved.teacherSteps(), saved.guidance());
                saved.close();
            }
        }
        System.out.printf("regression pairs: drawing %d teacher samples (DDIM %d, guidance %s)...%n", regressionPairs, regressionSteps, guidance);
        long started = System.nanoTime();
        RegressionPairs pairs;
        try (Scope s = Scope.open(); Generator g = new Generator(seed + 303); var frozen = Autograd.noGrad()) {
            long[] labels = new long[regressionPairs];
            for (int i = 0; i < labels.length; i++) labels[i] = i % org.panamasd.data.FashionCaptions.classes();
            String[] captions = org.panamasd.data.FashionCaptions.random(labels, g);
            Tensor[] contexts = new Tensor[(captions.length + 255) / 256];
            for (int c = 0; c < contexts.length; c++) {  // in chunks, each encoder pass's temporaries freed with its scope
                String[] chunk = java.util.Arrays.copyOfRange(captions, 256 * c, Math.min(captions.length, 256 * (c + 1)));
                try (Scope e = Scope.open()) {
                    contexts[c] = textEncoder.forward(ids(tokenizer, chunk, textEncoder)).lastHiddenState().contiguous().moveToParent();
                }
            }
            Tensor context = Tensor.cat(0, contexts);
            Tensor unconditional;
            try (Scope e = Scope.open()) {
                unconditional = textEncoder.forward(ids(tokenizer, new String[] {""}, textEncoder)).lastHiddenState().contiguous().moveToParent();
            }
            pairs = RegressionPairs.generate(teacher, source, schedule, regressionSteps, guidance, Tensor.randn(g, shape), context, unconditional, 64)
                    .moveToParent();
        }
        pairs.save(file);
        System.out.printf("regression pairs: %d in %.0f s, written to %s%n", pairs.size(), (System.nanoTime() - started) / 1e9, file);
        return pairs;
    }

    /** Held-out images the discriminator is judged on: the first of the test split, and as many of the student's. */
    private static final int HELD_OUT = 128;

    /** The discriminator probe: heads alone against the frozen student, judged on held-out images; exit 0 either way, the verdict printed. */
    private int probe(AddDraws draws, FashionMnist data, Tensor latents, FashionMnist heldOutData, Tensor heldOutLatents,
                      AddTrainer.Denoiser student, DiscriminatorTrainer heads) throws java.io.IOException {
        DiscriminatorLog monitor = new DiscriminatorLog(out.resolve("probe.tsv"), 1);
        DiscriminatorProbe.Images heldOut = draws.heldOut(heldOutData, heldOutLatents, HELD_OUT, batch, student, seed + 101);
        DiscriminatorProbe.Result result = DiscriminatorProbe.run(heads,
                (step, g) -> draws.images(draws.batch(data, latents, data.randomBatch(g, batch), g), student, g),
                heldOut, probeSteps, monitorEvery, batch, seed, point -> {
                    monitor.add(point.step(), point.training().batch(), point.heldOut());
                    System.out.printf("probe step %d: hinge %.3f  R1 %.5f  held-out accuracy %.3f  mean logit real %.3f fake %.3f%n", point.step(),
                            point.training().realHinge() + point.training().fakeHinge(), point.training().r1(), point.heldOut().accuracy(),
                            point.heldOut().meanRealLogit(), point.heldOut().meanFakeLogit());
                });
        monitor.plot(out.resolve("probe.png"), "discriminator probe (" + headNorm + ", " + featuresDir.getFileName() + ")");
        System.out.printf("the discriminator %s: held-out accuracy %.3f after %d steps (sees from %.2f; chance 0.5)%n",
                result.sees() ? "sees" : "does NOT see", result.last().accuracy(), probeSteps, DiscriminatorProbe.SEES);
        return 0;
    }

    /** The ADD benchmark's figures: per-part milliseconds per step and shares, with the machine. */
    static void printTimings(Map<String, Long> nanos, long steps, int batch) {
        if (steps < 1) return;
        long total = nanos.values().stream().mapToLong(Long::longValue).sum();
        System.out.printf("ADD step at batch %d: %.3f s (mean of %d steps after 2 warm-up)%n", batch, total / 1e9 / steps, steps);
        nanos.forEach((part, n) -> System.out.printf("  %-75s %7.1f ms  %4.1f %%%n", part, n / 1e6 / steps, 100.0 * n / total));
        System.out.println("machine: " + MachineDescription.describe());
    }

    /** The student starts as the teacher (its EMA weights); with --lora-rank, the LoRA it trains as, else null. */
    private TrainableLora startFrom(UNet2DConditionModel teacher, UNet2DConditionModel student) {
        copyWeights(teacher.parameters(), student.parameters());
        return loraRank != null ? TrainableLora.attach(Map.of("unet", student.parameters()), loraRank, seed + 11) : null;
    }

    static Tensor ids(CLIPTokenizer tokenizer, String[] captions, CLIPTextModel encoder) {
        return encoder.ids(tokenizer.inputIds(captions, encoder.config().maxPositions()), captions.length);
    }

    static void copyWeights(Map<String, Tensor> from, Map<String, Tensor> to) {
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            for (var e : to.entrySet()) {
                Tensor source = from.get(e.getKey());
                if (source == null) throw new IllegalArgumentException("the teacher has no parameter '" + e.getKey() + "'");
                e.getValue().copyFrom(source);
            }
        }
    }

    /** A student directory: its own UNet and scheduler config; tokenizer, text encoder and VAE linked to the teacher's. */
    static void writeStudent(Path dir, Path teacherDir, DiffusersConfig scheduler, DiffusersConfig unet, Map<String, Tensor> weights, DType storage,
                             String defaults) throws Exception {
        PipelineDirectoryWriter w = new PipelineDirectoryWriter(dir).modelIndexAndScheduler(scheduler).unet(unet, weights, storage);
        for (String shared : List.of("tokenizer", "text_encoder", "vae")) w.linkComponent(shared, teacherDir);
        org.panamasd.io.ComponentWriter.writeText(dir.resolve(GenerationDefaults.FILE), defaults);
    }
}
