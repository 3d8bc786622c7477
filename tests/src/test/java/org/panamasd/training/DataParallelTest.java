package org.panamasd.training;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.cli.DistributedLauncher;
import org.panamasd.data.FashionCaptions;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.support.NativeTest;
import org.panamasd.training.distributed.DataParallelRun;
import org.panamasd.training.distributed.DistributedDataParallel;
import org.panamasd.training.t2i.TextToImageTrainer;

/**
 * Data-parallel training in separate processes started by the launcher (2 ranks, loopback, a small
 * text-to-image teacher): the result equals one process's at the same global batch, and a rank that dies
 * makes the other fail with a clear error instead of hanging.
 */
class DataParallelTest extends NativeTest {
    static final int STEPS = 3, GLOBAL_BATCH = 4, CHECKPOINT_STEP = 2;
    static final String TEXT = """
            {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1, "max_position_embeddings": 77,
             "vocab_size": 49408, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05, "projection_dim": 32, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}""";
    static final String UNET = """
            {"sample_size": 8, "in_channels": 4, "out_channels": 4, "block_out_channels": [32, 32],
             "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"], "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
             "layers_per_block": 1, "attention_head_dim": 4, "cross_attention_dim": 32, "norm_num_groups": 8}""";
    static final String SCHEDULE = """
            {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "prediction_type": "v_prediction", "rescale_betas_zero_snr": true}""";

    static TextToImageTrainer trainer() {
        Path tokenizer = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher/tokenizer");
        return new TextToImageTrainer(CLIPTokenizer.load(tokenizer), DiffusersConfig.parse(TEXT), DiffusersConfig.parse(UNET),
                NoiseSchedule.fromConfig(DiffusersConfig.parse(SCHEDULE)), new LearningRateSchedule(1e-3, 0, STEPS, 1.0), 0.25, 0.9, 7);
    }

    /** The steps of a run: each draws the global batch from the step's seed, so every process sees the same data order. */
    static void train(TextToImageTrainer trainer, DistributedDataParallel ddp, int first, int last, int dieAtStep) {
        for (int step = first; step <= last; step++) {
            if (step == dieAtStep) Runtime.getRuntime().halt(137);  // as if killed: no cleanup, sockets closed by the kernel
            try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(11, step)) {
                Tensor latents = Tensor.randn(g, GLOBAL_BATCH, 4, 8, 8);
                long[] labels = Tensor.randint(0, 10, g, GLOBAL_BATCH).toLongArray();
                trainer.step(latents, FashionCaptions.random(labels, g), g, ddp);
            }
        }
    }

    static Map<String, Tensor> named(TextToImageTrainer trainer) {
        Map<String, Tensor> all = new LinkedHashMap<>();
        trainer.textEncoder().parameters().forEach((k, v) -> all.put("text." + k, v));
        trainer.unet().parameters().forEach((k, v) -> all.put("unet." + k, v));
        return all;
    }

    /** A rank of the run: {@code OUT_DIR DIE_RANK DIE_STEP}; writes its parameters to OUT_DIR/rank-R.safetensors. */
    public static void main(String[] args) {
        Path out = Path.of(args[0]);
        int dieRank = Integer.parseInt(args[1]), dieStep = Integer.parseInt(args[2]);
        try (Scope scope = Scope.open(); TextToImageTrainer trainer = trainer(); DataParallelRun run = DataParallelRun.join(trainer.parameters(), List.of())) {
            int die = run.rank() == dieRank ? dieStep : -1;
            train(trainer, run.ddp(), 1, CHECKPOINT_STEP, die);
            if (run.leader())  // rank 0 alone writes the checkpoint, as the training commands do
                TrainingCheckpoint.save(out.resolve("checkpoint"), new TrainingCheckpoint.State(CHECKPOINT_STEP, 11), trainer.checkpointWeights(),
                        Map.of("adamw", trainer.optimizer()));
            train(trainer, run.ddp(), CHECKPOINT_STEP + 1, STEPS, die);
            SafeTensorsWriter.write(named(trainer), Map.of(), out.resolve("rank-" + run.rank() + ".safetensors"));
        } catch (RuntimeException e) {
            System.err.println("rank failed: " + e.getMessage());
            System.exit(3);
        }
    }

    private static int launch(Path dir, int dieRank, int dieStep, Duration timeout) throws Exception {
        var plan = new DistributedLauncher.Plan(2, 0, 2, "127.0.0.1", freePort(), timeout);
        return DistributedLauncher.launch(DataParallelTest.class.getName(), List.of(dir.toString(), "" + dieRank, "" + dieStep), plan, dir);
    }

    @Test
    void twoProcessesAtGlobalBatchTwoBTrainWhatOneProcessDoesAtTwoB() throws Exception {
        Path dir = Files.createTempDirectory("psd-ddp");
        try {
            int status = launch(dir, -1, -1, Duration.ofSeconds(60));
            assertEquals(0, status, () -> "the ranks failed:\n" + logs(dir));
            assertTheRanksTrainedWhatOneProcessDoes(dir);
        } finally {
            delete(dir);
        }
    }

    /**
     * The ranks' parameters (OUT_DIR/rank-R.safetensors) are equal to each other and to one process's at the
     * same global batch, and the checkpoint rank 0 wrote resumes in one process to the same parameters.
     */
    static void assertTheRanksTrainedWhatOneProcessDoes(Path dir) {
        try (Scope s = Scope.open(); TextToImageTrainer alone = trainer()) {
            train(alone, null, 1, STEPS, -1);
            SafeTensors rank0 = SafeTensors.open(dir.resolve("rank-0.safetensors")), rank1 = SafeTensors.open(dir.resolve("rank-1.safetensors"));
            double worst = 0, moved = 0;
            String worstName = "";
            long elements = 0, over = 0;
            for (var p : named(alone).entrySet()) {
                Tensor a = rank0.tensor(p.getKey()), b = rank1.tensor(p.getKey());
                assertEquals(0, a.sub(b).abs().max().item(), "both ranks hold the same " + p.getKey());
                // CLIP's key bias has an exactly zero gradient (softmax ignores a constant added to every logit of
                // a row): what it gets is rounding noise, which Adam scales up to steps of about lr. Skipped.
                if (p.getKey().endsWith("k_proj.bias")) continue;
                Tensor diff = a.sub(p.getValue()).abs();
                double d = diff.max().item();
                if (d > worst) {
                    worst = d;
                    worstName = p.getKey();
                }
                elements += a.numel();
                over += (long) diff.gt(1e-6).to(org.panamasd.DType.FLOAT32).sum().item();
            }
            try (TextToImageTrainer untrained = trainer()) {  // same seed: where training started
                for (var p : named(untrained).entrySet()) moved = Math.max(moved, p.getValue().sub(named(alone).get(p.getKey())).abs().max().item());
            }
            assertTrue(moved > 1e-3, "training moved the parameters (" + moved + "), so the comparison means something");
            // A wrong shard, a missing or wrong average moves parameters by about lr = 1e-3 per step; summing in
            // another order moves a few elements by ~1e-5 (Adam divides tiny gradients by their own size).
            String where = "worst difference " + worst + " in " + worstName + "; " + over + " of " + elements + " elements differ by > 1e-6";
            assertTrue(worst < 5e-5, "2 processes at batch " + GLOBAL_BATCH / 2 + " each = 1 process at " + GLOBAL_BATCH + ": " + where);
            assertTrue(over < elements / 10_000, "all but a few elements agree within 1e-6: " + where);

            // --resume at another world size: one process continues the 2-process run's checkpoint
            try (TextToImageTrainer resumed = trainer()) {
                var state = TrainingCheckpoint.load(dir.resolve("checkpoint"), resumed.checkpointWeights(), Map.of("adamw", resumed.optimizer()));
                assertEquals(CHECKPOINT_STEP, state.step());
                resumed.setStepCount(state.step());
                train(resumed, null, CHECKPOINT_STEP + 1, STEPS, -1);
                double resumedWorst = 0;
                for (var p : named(alone).entrySet())
                    if (!p.getKey().endsWith("k_proj.bias"))
                        resumedWorst = Math.max(resumedWorst, named(resumed).get(p.getKey()).sub(p.getValue()).abs().max().item());
                assertTrue(resumedWorst < 5e-5, "resumed alone from the 2-process checkpoint = trained alone: worst difference " + resumedWorst);
            }
        }
    }

    @Test
    void aRankKilledMidRunMakesTheOtherFailWithAClearErrorInsteadOfHanging() throws Exception {
        Path dir = Files.createTempDirectory("psd-ddp-kill");
        try {
            long start = System.nanoTime();
            int status = launch(dir, 1, 2, Duration.ofSeconds(10));
            double seconds = (System.nanoTime() - start) / 1e9;
            String rank0 = Files.readString(dir.resolve("rank-0.log"));
            rank0.lines().filter(l -> l.startsWith("rank failed")).forEach(l -> System.out.println("rank 0 of the killed run: " + l));
            assertNotEquals(0, status, "the run failed");
            assertTrue(rank0.contains("rank failed: ") && rank0.contains("failed on rank 0 of 2"), "rank 0 says which call failed where:\n" + rank0);
            assertTrue(rank0.contains("a process died"), "and the likely cause:\n" + rank0);
            assertFalse(Files.exists(dir.resolve("rank-0.safetensors")), "rank 0 did not finish");
            assertTrue(seconds < 10 + 10 + 20, "no hang: the launcher returned after " + seconds + " s");
        } finally {
            delete(dir);
        }
    }

    static int freePort() throws Exception {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String logs(Path dir) {
        StringBuilder all = new StringBuilder();
        try {
            for (int r = 0; r < 2; r++) {
                Path log = dir.resolve("rank-" + r + ".log");
                if (Files.exists(log)) all.append("--- rank ").append(r).append('\n').append(Files.readString(log));
            }
        } catch (java.io.IOException e) {
            all.append(e);
        }
        return all.toString();
    }

    static void delete(Path dir) throws Exception {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
