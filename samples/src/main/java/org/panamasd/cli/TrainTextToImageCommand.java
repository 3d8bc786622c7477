package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.data.FashionMnist;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.io.ImageFiles;
import org.panamasd.io.ImageGrid;
import org.panamasd.io.PipelineDirectoryWriter;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.LossCheck;
import org.panamasd.training.LossCurve;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.TrainingCheckpoint;
import org.panamasd.training.distributed.DataParallelRun;
import org.panamasd.training.t2i.TextToImageTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Trains the Fashion-MNIST text-to-image teacher (a small CLIP text encoder and UNet over the latents of a
 * trained VAE) and writes it as a diffusers Stable Diffusion directory with an image grid and a loss curve:
 * {@code train-t2i --vae DIR --out DIR [--steps 1600] [--batch 128] [--lr 1e-3] [--warmup 100] [--ema 0.998]
 * [--dropout 0.1] [--seed 0] [--tokenizer DIR] [--checkpoint-every 200] [--resume true] [--images N] [--grid-steps 25]}
 * [--nproc N ...]: data-parallel over N processes ({@link DistributedLauncher}) at the same global batch; rank 0
 * alone writes checkpoints and the model, so a checkpoint resumes at any process count. With {@code --base DIR
 * --lora-rank R} it fine-tunes a trained model through a LoRA instead and writes the adapter as diffusers does
 * ({@code pytorch_lora_weights.safetensors}) beside the fine-tuned model.
 */
@Command(name = "train-t2i", sortOptions = false, description = {"Trains the Fashion-MNIST text-to-image teacher as a diffusers directory.",
        "A CLIP text encoder and UNet over a trained VAE's latents, with an image grid and a loss curve; resumes from DIR/checkpoint.",
        "Data-parallel: --nproc N starts N processes at the same global --batch; several machines add --rank FIRST --world-size ALL",
        "--master-addr HOST --master-port PORT [--dist-timeout SECONDS] (read by the launcher before this command's options).",
        "--base DIR --lora-rank R fine-tunes a trained model through a LoRA instead: OUT/pytorch_lora_weights.safetensors (diffusers layout,",
        "for generate --lora) and OUT/model, the base with the adapter fused (float32)."})
final class TrainTextToImageCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--vae", paramLabel = "DIR", description = "A directory holding vae/ (train-vae's --out); not with --base, whose VAE is used.")
    Path vaeRoot;
    @Option(names = "--base", paramLabel = "DIR", description = "With --lora-rank: the trained text-to-image pipeline directory to fine-tune.")
    Path base;
    @Option(names = "--lora-rank", paramLabel = "R", description = "Fine-tune --base through a LoRA of rank R on the UNet's attention projections.")
    Integer loraRank;
    @Option(names = "--lora-text-encoder", description = "With --lora-rank: adapt the text encoder's attention projections too.")
    boolean loraTextEncoder;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where checkpoints, the model and its samples go.")
    Path out;
    @Option(names = "--steps", defaultValue = "1600", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--warmup", defaultValue = "100", description = "Warm-up steps (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--ema", defaultValue = "0.998", description = "EMA decay (default: ${DEFAULT-VALUE}).")
    double ema;
    @Option(names = "--dropout", defaultValue = "0.1", description = "Caption dropout for guidance (default: ${DEFAULT-VALUE}).")
    double dropout;
    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--tokenizer", paramLabel = "DIR", description = "CLIP tokenizer files (default: the golden SD pipeline case's).")
    Path tokenizer;
    @Option(names = "--checkpoint-every", defaultValue = "200", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
    int every;
    @Option(names = "--resume", arity = "1", defaultValue = "true", description = "Continue from the latest checkpoint if there is one (default: ${DEFAULT-VALUE}).")
    boolean resume;
    @Mixin
    TrainingImages images;
    @Option(names = "--grid-steps", defaultValue = "25", description = "DDIM steps of the sample grid (default: ${DEFAULT-VALUE}).")
    int gridSteps;

    static final String TEXT_ENCODER = """
            {"architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "quick_gelu",
             "hidden_size": 32, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-05,
             "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 2, "num_hidden_layers": 2,
             "pad_token_id": 1, "projection_dim": 32, "torch_dtype": "float32", "transformers_version": "4.38.2", "vocab_size": 49408}""";
    static final String UNET = """
            {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.27.2", "sample_size": 16, "in_channels": 4, "out_channels": 4,
             "block_out_channels": [64, 96, 128], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "mid_block_type": "UNetMidBlock2DCrossAttn",
             "layers_per_block": 1, "attention_head_dim": 4, "cross_attention_dim": 32, "norm_num_groups": 32, "act_fn": "silu",
             "flip_sin_to_cos": true, "freq_shift": 0}""";
    /** v-prediction over a zero-terminal-SNR schedule with trailing spacing (Lin et al. 2023), DDIM to sample. */
    static final String SCHEDULER = """
            {"_class_name": "DDIMScheduler", "_diffusers_version": "0.27.2", "beta_start": 0.00085, "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "v_prediction",
             "rescale_betas_zero_snr": true, "timestep_spacing": "trailing", "set_alpha_to_one": true, "steps_offset": 1,
             "clip_sample": false, "trained_betas": null}""";

    @Override
    public Integer call() throws Exception {
        boolean adapting = loraRank != null;
        if (adapting == (base == null)) throw new IllegalArgumentException("--lora-rank and --base go together: --base names the model the LoRA adapts");
        if (adapting == (vaeRoot != null))
            throw new IllegalArgumentException(adapting ? "--vae is not for --lora-rank: the adapter is trained on --base's own VAE latents" : "--vae DIR is required");
        if (loraTextEncoder && !adapting) throw new IllegalArgumentException("--lora-text-encoder needs --lora-rank");
        Path vaeDir = (adapting ? base : vaeRoot).resolve("vae");
        Path tokenizerDir = tokenizer != null ? tokenizer : adapting ? base.resolve("tokenizer") : Paths.goldenTokenizer();
        Path checkpoint = out.resolve("checkpoint");

        FashionMnist data = images.load();
        DiffusersConfig scheduler = adapting ? baseScheduler(base) : DiffusersConfig.parse(SCHEDULER);
        NoiseSchedule noiseSchedule = NoiseSchedule.fromConfig(scheduler);
        LearningRateSchedule learningRate = new LearningRateSchedule(lr, warmup, steps, 0.05);
        CLIPTokenizer clipTokenizer = CLIPTokenizer.load(tokenizerDir);
        try (Scope latentsScope = Scope.open();
             TextToImageTrainer trainer = adapting ? loraTrainer(clipTokenizer, noiseSchedule, learningRate)
                     : new TextToImageTrainer(clipTokenizer, DiffusersConfig.parse(TEXT_ENCODER), DiffusersConfig.parse(UNET), noiseSchedule, learningRate, dropout, ema, seed);
             DataParallelRun run = DataParallelRun.join(trainer.parameters(), trainer.emaTensors())) {
            // The leader encodes (and caches) the latents while the others wait, then they read its cache.
            Tensor latents = run.leader() ? encodeAll(vaeDir, data) : null;
            run.barrier();
            if (latents == null) latents = encodeAll(vaeDir, data);
            long parameters = trainer.parameters().stream().mapToLong(Tensor::numel).sum();
            if (run.leader())
                System.out.printf("%s: %.3fM trained parameters, latents %s, batch %d (%d per process), %d steps%n",
                        adapting ? "LoRA rank " + loraRank + " on " + base + " (" + trainer.lora().adaptedWeights() + " projections)" : "teacher",
                        parameters / 1e6, java.util.Arrays.toString(latents.shape()), batch, batch / run.worldSize(), steps);
            long first = 1;
            Path resumeFrom = TrainingCheckpoint.latest(checkpoint);
            if (resume && resumeFrom != null) {
                TrainingCheckpoint.State state = TrainingCheckpoint.load(resumeFrom, trainer.checkpointWeights(), Map.of("adamw", trainer.optimizer()));
                if (state.seed() != seed) throw new IllegalArgumentException(resumeFrom + " was trained with --seed " + state.seed() + ", not " + seed);
                trainer.setStepCount(state.step());
                first = state.step() + 1;
                if (run.leader()) System.out.println("resumed from " + resumeFrom + " at step " + state.step());
            }
            LossCurve curve = new LossCurve();
            TrainingProgress progress = new TrainingProgress("train-t2i", first - 1, steps, 25);
            for (long step = first; step <= steps; step++) {
                double loss;
                try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(seed, step)) {
                    int[] indices = data.randomBatch(g, batch);
                    long[] labels = data.labels(indices).toLongArray();
                    Tensor x0 = latents.indexSelect(0, Tensor.of(java.util.Arrays.stream(indices).asLongStream().toArray(), batch));
                    // every rank draws the same global batch; the trainer takes this rank's slice of it
                    loss = LossCheck.finite("v-prediction mse", trainer.step(x0, FashionCaptions.random(labels, g), g, run.ddp()), step);
                }
                curve.add("v mse", step, loss);
                if (!run.leader()) continue;  // the leader alone reports and writes
                progress.update(step, String.format("loss %.4f  lr %.2e%s", loss, learningRate.at(step),
                        run.ddp() == null ? "" : String.format("  all-reduce wait %.0f ms/step", 1e3 * run.ddp().meanWaitSeconds())));
                if (step % every == 0 || step == steps)
                    TrainingCheckpoint.save(checkpoint, new TrainingCheckpoint.State(step, seed), trainer.checkpointWeights(), Map.of("adamw", trainer.optimizer()));
            }
            if (!run.leader()) return 0;
            curve.write(out.resolve("loss.png"), "train-t2i");
            if (adapting) writeAdapted(trainer, scheduler, tokenizerDir);
            else new PipelineDirectoryWriter(out.resolve("model")).modelIndexAndScheduler(scheduler).tokenizer(tokenizerDir)
                    .textEncoder(DiffusersConfig.parse(TEXT_ENCODER), trainer.ema("text_encoder"), DType.FLOAT16)
                    .unet(DiffusersConfig.parse(UNET), trainer.ema("unet"), DType.FLOAT16)
                    .copyComponent("vae", vaeDir);
            org.panamasd.io.ComponentWriter.writeText(out.resolve("model").resolve(GenerationDefaults.FILE), GenerationDefaults.TEACHER_JSON);
        }
        Path grid = out.resolve("samples.png");
        sampleGrid(out.resolve("model"), gridSteps, 3.0, grid);
        System.out.println("saved " + out.resolve("model").toAbsolutePath() + " (diffusers layout, EMA weights" + (adapting ? ", the LoRA fused" : "") + "), "
                + (adapting ? out.resolve(LORA_FILE) + " (the LoRA, diffusers layout), " : "") + grid + ", " + out.resolve("loss.png"));
        return 0;
    }

    /** The adapter's file, under the name diffusers' LoRA training scripts give it. */
    static final String LORA_FILE = "pytorch_lora_weights.safetensors";

    /** The base's scheduler config: its noise schedule is what the LoRA trains on, and the loss is v-prediction. */
    private static DiffusersConfig baseScheduler(Path base) {
        Path file = base.resolve("scheduler/scheduler_config.json");
        DiffusersConfig config = DiffusersConfig.read(file);
        String prediction = config.string("prediction_type", "epsilon");
        if (!prediction.equals("v_prediction"))
            throw new IllegalArgumentException(file + ": prediction_type " + prediction + "; train-t2i trains with the v-prediction loss, so --base must predict v");
        return config;
    }

    private TextToImageTrainer loraTrainer(CLIPTokenizer clipTokenizer, NoiseSchedule schedule, LearningRateSchedule learningRate) {
        CLIPTextModel textEncoder = CLIPTextModel.load(base.resolve("text_encoder"));
        UNet2DConditionModel unet;
        try {
            unet = UNet2DConditionModel.load(base.resolve("unet"));
        } catch (RuntimeException e) {
            textEncoder.close();
            throw e;
        }
        return TextToImageTrainer.lora(clipTokenizer, textEncoder, unet, loraRank, loraTextEncoder, schedule, learningRate, dropout, ema, seed);
    }

    /**
     * The adapter (the matrices' EMA) as a diffusers LoRA file, and the model it makes of the base: the adapted
     * components with it fused, in float32 so that {@code generate --model BASE --lora FILE} draws the same images;
     * the rest linked to the base.
     */
    private void writeAdapted(TextToImageTrainer trainer, DiffusersConfig scheduler, Path tokenizerDir) throws java.io.IOException {
        Map<String, Tensor> adapter = trainer.ema(TextToImageTrainer.LORA);
        trainer.lora().write(adapter, out.resolve(LORA_FILE));
        trainer.lora().applyWeights(adapter);
        Path model = out.resolve("model");
        PipelineDirectoryWriter w = new PipelineDirectoryWriter(model).modelIndexAndScheduler(scheduler)
                .unet(DiffusersConfig.read(base.resolve("unet/config.json")), trainer.unet().parameters(), DType.FLOAT32);
        if (loraTextEncoder) w.textEncoder(DiffusersConfig.read(base.resolve("text_encoder/config.json")), trainer.textEncoder().parameters(), DType.FLOAT32);
        else w.linkComponent("text_encoder", base);
        w.linkComponent("vae", base);
        if (tokenizerDir.equals(base.resolve("tokenizer"))) w.linkComponent("tokenizer", base);
        else w.tokenizer(tokenizerDir);
    }

    /**
     * Every training image's VAE latent mean, scaled: (N, 4, 16, 16), in the current scope. Cached under
     * runs/.cache (keyed by the VAE's weights file and the image count), since the teacher and ADD both need them.
     */
    static Tensor encodeAll(Path vaeDir, FashionMnist data) throws java.io.IOException {
        Path weights = vaeDir.resolve("diffusion_pytorch_model.safetensors").toRealPath();
        String key = Integer.toHexString((weights + "|" + java.nio.file.Files.size(weights) + "|" + java.nio.file.Files.getLastModifiedTime(weights)).hashCode());
        Path cache = Paths.root().resolve("runs/.cache/latents-" + data.size() + "-" + key + ".safetensors");
        java.nio.file.Files.createDirectories(cache.getParent());
        if (java.nio.file.Files.isRegularFile(cache)) {
            try (Scope read = Scope.open()) {
                return org.panamasd.io.SafeTensors.open(cache).tensor("latents").copy().moveToParent();
            }
        }
        try (AutoencoderKL vae = AutoencoderKL.load(vaeDir); var inference = Autograd.inferenceMode()) {
            List<Tensor> parts = new ArrayList<>();
            int chunk = 250;
            long start = System.nanoTime();
            for (int from = 0; from < data.size(); from += chunk) {
                int[] idx = new int[Math.min(chunk, data.size() - from)];
                for (int i = 0; i < idx.length; i++) idx[i] = from + i;
                try (Scope s = Scope.open()) {
                    parts.add(vae.scaleLatents(vae.encode(data.paddedRgb(idx)).mean()).moveToParent());
                }
                if ((from / chunk) % 40 == 39)
                    System.out.printf("encoding latents: %d/%d (%.0f img/s)%n", from + idx.length, data.size(), (from + idx.length) / ((System.nanoTime() - start) / 1e9));
            }
            Tensor all = Tensor.cat(0, parts.toArray(Tensor[]::new));
            for (Tensor p : parts) p.close();
            org.panamasd.io.SafeTensorsWriter.write(Map.of("latents", all), Map.of("vae", vaeDir.toString()), cache);
            return all;
        }
    }

    /** Four samples per class (rows: classes), written upscaled 4x. */
    static void sampleGrid(Path model, int steps, double guidance, Path file) {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model); Scope scope = Scope.open()) {
            List<Tensor> rows = new ArrayList<>();
            for (int c = 0; c < FashionCaptions.classes(); c++) {
                Tensor[] row = new Tensor[4];
                for (int k = 0; k < 4; k++) row[k] = pipe.generate(GenerationRequest.of(FashionCaptions.prompt(c), steps, guidance, 32, 32, k)).image();
                rows.add(Tensor.cat(0, row));
            }
            ImageFiles.writePng(ImageGrid.of(rows, 2), file);
        }
    }
}
