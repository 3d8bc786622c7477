package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.schedulers.DDIMScheduler;
import org.panamasd.schedulers.EulerAncestralDiscreteScheduler;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.support.GoldenRoot;
import org.panamasd.support.NativeTest;

/**
 * The SDXL pipeline end to end on tiny random components (there is no SDXL pipeline reference case; its UNet
 * and text encoders have their own golden cases): the context is both encoders' penultimate states side by
 * side, the pooled embedding is the second encoder's projection, turbo-style and guided runs work and repeat.
 */
class StableDiffusionXLPipelineTest extends NativeTest {

    private static final String TE = "{\"vocab_size\": 49408, \"hidden_size\": 32, \"intermediate_size\": 37, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"hidden_act\": \"gelu\", \"projection_dim\": 32, \"eos_token_id\": 49407}";

    private static StableDiffusionXLPipeline tinyPipeline(CLIPTokenizer tokenizer) {
        return tinyPipeline(tokenizer, CLIPTextModel.initialize(DiffusersConfig.parse(TE), false, 1), CLIPTextModel.initialize(DiffusersConfig.parse(TE), true, 2));
    }

    private static final String UNET = """
            {"block_out_channels": [32, 64], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "attention_head_dim": [2, 4],
             "cross_attention_dim": 64, "transformer_layers_per_block": [1, 2], "use_linear_projection": true,
             "addition_embed_type": "text_time", "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 80}""";
    private static final String VAE = "{\"block_out_channels\": [32, 64], \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"], \"scaling_factor\": 0.13025}";
    private static final String SCHEDULER = "{\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012, \"timestep_spacing\": \"trailing\"}";

    private static StableDiffusionXLPipeline tinyPipeline(CLIPTokenizer tokenizer, CLIPTextModel first, CLIPTextModel second) {
        return new StableDiffusionXLPipeline(tokenizer, tokenizer.withPadToken("!"),
                first, second,
                UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 3), AutoencoderKL.initialize(DiffusersConfig.parse(VAE), 4),
                new EulerAncestralDiscreteScheduler(DiffusersConfig.parse(SCHEDULER)), true);
    }

    @Test
    void aUNetWhoseAddedEmbeddingDoesNotFitTheSecondEncoderIsRefused() {
        CLIPTokenizer tokenizer = tokenizer();
        // 6 * addition_time_embed_dim + projection_dim = 48 + 31 != 80
        String narrower = TE.replace("\"projection_dim\": 32", "\"projection_dim\": 31");
        try (CLIPTextModel first = CLIPTextModel.initialize(DiffusersConfig.parse(TE), false, 1);
             CLIPTextModel second = CLIPTextModel.initialize(DiffusersConfig.parse(narrower), true, 2);
             UNet2DConditionModel unet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 3);
             AutoencoderKL vae = AutoencoderKL.initialize(DiffusersConfig.parse(VAE), 4)) {
            var e = assertThrows(IllegalArgumentException.class, () -> new StableDiffusionXLPipeline(tokenizer, tokenizer.withPadToken("!"), first, second,
                    unet, vae, new EulerAncestralDiscreteScheduler(DiffusersConfig.parse(SCHEDULER)), true));
            assertTrue(e.getMessage().contains("projection_class_embeddings_input_dim is 80") && e.getMessage().contains("79"), e.getMessage());
        }
    }

    private static CLIPTokenizer tokenizer() {
        return CLIPTokenizer.load(GoldenRoot.directory("clip-tokenizer"));
    }

    @Test
    void turboAndGuidedRunsProduceRepeatableImages() {
        try (StableDiffusionXLPipeline pipe = tinyPipeline(tokenizer()); Scope scope = Scope.open()) {
            Tensor turbo = pipe.generate(GenerationRequest.of("a cinematic shot of a racoon", 1, 0.0, 32, 32, 9)).image();
            assertArrayEquals(new long[] {1, 3, 32, 32}, turbo.shape());
            assertTrue(turbo.min().item() >= 0 && turbo.max().item() <= 1);
            assertArrayEquals(turbo.toFloatArray(), pipe.generate(GenerationRequest.of("a cinematic shot of a racoon", 1, 0.0, 32, 32, 9)).image().toFloatArray());
            pipe.scheduler().close();
            pipe.setScheduler(new DDIMScheduler(DiffusersConfig.parse("{\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012}")));
            List<Long> batches = new ArrayList<>();
            try (Generator g = new Generator(1)) {
                pipe.generate(GenerationRequest.of("a racoon", 3, 5.0, 32, 32, 1), g, NoiseSource.of(g), (i, t, in, out, guided, latents) -> batches.add(in.size(0)));
            }
            assertEquals(List.of(2L, 2L, 2L), batches, "guidance runs [uncond, cond] batches");
        }
    }

    @Test
    void theContextIsBothEncodersPenultimateStates() {
        CLIPTokenizer tokenizer = tokenizer();
        CLIPTextModel first = CLIPTextModel.initialize(DiffusersConfig.parse(TE), false, 1), second = CLIPTextModel.initialize(DiffusersConfig.parse(TE), true, 2);
        try (StableDiffusionXLPipeline pipe = tinyPipeline(tokenizer, first, second); Scope scope = Scope.open()) {
            StableDiffusionXLPipeline.PromptEmbeddings e = pipe.encodePrompt("two encoders!");
            assertArrayEquals(new long[] {1, 77, 64}, e.context().shape());
            var one = first.forward(Tensor.of(tokenizer.inputIds("two encoders!", 77), 1, 77));
            var two = second.forward(Tensor.of(tokenizer.withPadToken("!").inputIds("two encoders!", 77), 1, 77));
            assertArrayEquals(one.hiddenStates().get(1).toFloatArray(), e.context().narrow(2, 0, 32).contiguous().toFloatArray());
            assertArrayEquals(two.hiddenStates().get(1).toFloatArray(), e.context().narrow(2, 32, 32).contiguous().toFloatArray());
            assertArrayEquals(two.textEmbeds().toFloatArray(), e.pooled().toFloatArray());
        }
    }
}
