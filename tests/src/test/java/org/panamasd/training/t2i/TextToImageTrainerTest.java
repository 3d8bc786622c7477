package org.panamasd.training.t2i;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.PipelineDirectoryWriter;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.support.ShippedFiles;
import org.panamasd.support.NativeTest;
import org.panamasd.training.LearningRateSchedule;
import org.panamasd.training.StepSeeds;
import org.panamasd.training.TrainingCheckpoint;

/** The text-to-image teacher's trainer on tiny components: resuming is exact, and what it writes is a pipeline that loads. */
class TextToImageTrainerTest extends NativeTest {
    static final String TEXT = """
            {"hidden_size": 8, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1, "max_position_embeddings": 77,
             "vocab_size": 49408, "hidden_act": "quick_gelu", "eos_token_id": 2, "model_type": "clip_text_model"}""";
    static final String UNET = """
            {"_class_name": "UNet2DConditionModel", "in_channels": 4, "out_channels": 4, "block_out_channels": [8, 16],
             "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"], "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
             "layers_per_block": 1, "attention_head_dim": 2, "cross_attention_dim": 8, "norm_num_groups": 4, "sample_size": 4}""";
    static final String SCHEDULER = """
            {"_class_name": "DDIMScheduler", "prediction_type": "v_prediction", "rescale_betas_zero_snr": true,
             "timestep_spacing": "trailing", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps_offset": 1}""";
    static final String VAE = """
            {"_class_name": "AutoencoderKL", "block_out_channels": [8, 8], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "in_channels": 3, "out_channels": 3, "latent_channels": 4,
             "layers_per_block": 1, "norm_num_groups": 4, "sample_size": 8, "scaling_factor": 0.5}""";
    private static final String[] CAPTIONS = {"a photo of a sneaker", "trousers", "a bag on a black background", ""};

    private static TextToImageTrainer trainer(CLIPTokenizer tokenizer) {
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse(SCHEDULER));
        return new TextToImageTrainer(tokenizer, DiffusersConfig.parse(TEXT), DiffusersConfig.parse(UNET), schedule,
                new LearningRateSchedule(1e-3, 1, 4, 0.1), 0.25, 0.9, 5);
    }

    private static void train(TextToImageTrainer t, long from, long to) {
        for (long step = from; step <= to; step++)
            try (Scope s = Scope.open(); Generator g = StepSeeds.forStep(11, step)) {
                assertTrue(Double.isFinite(t.step(Tensor.randn(g, 4, 4, 4, 4), CAPTIONS, g)));
            }
    }

    @Test
    void aResumedRunEqualsAnUninterruptedOne(@TempDir Path tmp) {
        CLIPTokenizer tokenizer = CLIPTokenizer.load(ShippedFiles.tokenizer());
        try (TextToImageTrainer straight = trainer(tokenizer); TextToImageTrainer first = trainer(tokenizer)) {
            train(straight, 1, 4);
            train(first, 1, 2);
            TrainingCheckpoint.save(tmp.resolve("ckpt"), new TrainingCheckpoint.State(2, 11), first.checkpointWeights(), Map.of("adamw", first.optimizer()));
            try (TextToImageTrainer resumed = trainer(tokenizer)) {
                TrainingCheckpoint.State state = TrainingCheckpoint.load(TrainingCheckpoint.latest(tmp.resolve("ckpt")), resumed.checkpointWeights(),
                        Map.of("adamw", resumed.optimizer()));
                assertEquals(2, state.step());
                resumed.setStepCount(state.step());
                train(resumed, 3, 4);
                for (var group : straight.checkpointWeights().entrySet())
                    for (var p : group.getValue().entrySet())
                        assertArrayEquals(p.getValue().toFloatArray(), resumed.checkpointWeights().get(group.getKey()).get(p.getKey()).toFloatArray(),
                                group.getKey() + " " + p.getKey() + ": resumed == uninterrupted");
            }
        }
    }

    @Test
    void theWrittenDirectoryIsAPipelineThatGenerates(@TempDir Path tmp) throws Exception {
        CLIPTokenizer tokenizer = CLIPTokenizer.load(ShippedFiles.tokenizer());
        try (TextToImageTrainer t = trainer(tokenizer); AutoencoderKL vae = AutoencoderKL.initialize(DiffusersConfig.parse(VAE), 3)) {
            train(t, 1, 2);
            Path vaeDir = tmp.resolve("vae-src");
            org.panamasd.io.ComponentWriter.write(vaeDir, "config.json", DiffusersConfig.parse(VAE).toJson(), "diffusion_pytorch_model.safetensors",
                    vae.parameters(), DType.FLOAT16, Map.of());
            Path model = tmp.resolve("model");
            new PipelineDirectoryWriter(model).modelIndexAndScheduler(DiffusersConfig.parse(SCHEDULER)).tokenizer(ShippedFiles.tokenizer())
                    .textEncoder(DiffusersConfig.parse(TEXT), t.ema("text_encoder"), DType.FLOAT16).unet(DiffusersConfig.parse(UNET), t.ema("unet"), DType.FLOAT16)
                    .copyComponent("vae", vaeDir);
            assertTrue(Files.readString(model.resolve("model_index.json")).contains("\"DDIMScheduler\""));
            try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model); Scope s = Scope.open()) {
                Tensor image = pipe.generate(GenerationRequest.of("an ankle boot", 2, 3.0, 8, 8, 0)).image();
                assertArrayEquals(new long[] {1, 3, 8, 8}, image.shape());
                // the EMA weights were stored in float16 and are computed in float32
                assertEquals(DType.FLOAT32, pipe.unet().parameters().values().iterator().next().dtype());
            }
        }
    }
}
