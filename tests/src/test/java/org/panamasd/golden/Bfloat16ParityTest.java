package org.panamasd.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.panamasd.golden.Bfloat16Tolerance.check;
import static org.panamasd.golden.Bfloat16Tolerance.checkApplied;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.models.vae.LatentDistribution;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.support.GoldenRoot;
import org.panamasd.support.NativeTest;

/**
 * The golden model cases computed in bfloat16 (weights converted at load, inputs cast at each model's boundary,
 * outputs float32) against the reference's float32 outputs, within {@link Bfloat16Tolerance}'s bounds. Each case
 * first checks that its weights are bfloat16, and its outputs must differ from the reference by more than float32
 * would (bfloat16 silently not applied fails).
 */
@Tag("golden")
class Bfloat16ParityTest extends NativeTest {

    private static GoldenCase golden(String name) {
        return new GoldenCase(GoldenRoot.directory(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"unet-sd1-tiny", "unet-sd2-tiny", "unet-sdxl-tiny"})
    void unet(String name) {
        GoldenCase c = golden(name);
        SafeTensors in = c.inputs(), out = c.outputs();
        try (Scope scope = Scope.open();
             UNet2DConditionModel unet = UNet2DConditionModel.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"), Device.CPU,
                     DType.BFLOAT16)) {
            assertEquals(DType.BFLOAT16, unet.dtype());
            Bfloat16Tolerance.assertWeightsIn(DType.BFLOAT16, unet.parameters());
            Tensor sample = in.tensor("sample"), context = in.tensor("encoder_hidden_states");
            Tensor textEmbeds = in.contains("text_embeds") ? in.tensor("text_embeds") : null;
            Tensor timeIds = in.contains("time_ids") ? in.tensor("time_ids") : null;
            Map<String, Tensor> intermediates = new LinkedHashMap<>();
            unet.recordIntermediates(intermediates);
            Tensor result = unet.forward(sample, in.tensor("timestep"), context, textEmbeds, timeIds);
            unet.recordIntermediates(null);
            assertEquals(DType.FLOAT32, result.dtype(), "the output comes back in the input's dtype");
            for (String key : out.keys()) {
                if (!key.startsWith("debug.")) continue;
                Tensor got = intermediates.get(key.substring("debug.".length()));
                if (got == null) throw new AssertionError("the model recorded no intermediate '" + key + "'");
                check(name + " " + key, out.tensor(key), got);
            }
            assertEquals(DType.BFLOAT16, intermediates.get("conv_in").dtype(), "the blocks compute in bfloat16");
            assertEquals(DType.FLOAT32, intermediates.get("time_proj").dtype(), "the sinusoidal embedding is made in float32");
            checkApplied(name + " out", out.tensor("out"), result);
            checkApplied(name + " out_scalar_t", out.tensor("out_scalar_t"), unet.forward(sample, in.tensor("scalar_timestep"), context, textEmbeds, timeIds));
        }
    }

    @Test
    void vae() {
        GoldenCase c = golden("vae-kl-tiny");
        SafeTensors in = c.inputs(), out = c.outputs();
        try (Scope scope = Scope.open();
             AutoencoderKL vae = AutoencoderKL.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"), Device.CPU, DType.BFLOAT16)) {
            assertEquals(DType.BFLOAT16, vae.dtype());
            Bfloat16Tolerance.assertWeightsIn(DType.BFLOAT16, vae.parameters());
            Map<String, Tensor> steps = new LinkedHashMap<>();
            vae.recordIntermediates(steps);
            LatentDistribution latent = vae.encode(in.tensor("image"));
            Tensor decoded = vae.decode(in.tensor("latents"));
            vae.recordIntermediates(null);
            for (String key : out.keys())
                if (key.startsWith("debug.")) check("vae " + key, out.tensor(key), steps.get(key.substring("debug.".length())));
            assertEquals(DType.FLOAT32, latent.mean().dtype());
            assertEquals(DType.FLOAT32, decoded.dtype());
            checkApplied("vae latent_mean", out.tensor("latent_mean"), latent.mean());
            checkApplied("vae latent_logvar", out.tensor("latent_logvar"), latent.logvar());
            check("vae latent_sample", out.tensor("latent_sample"), latent.sample(in.tensor("sample_noise")));
            checkApplied("vae decoded", out.tensor("decoded"), decoded);
            checkApplied("vae roundtrip", out.tensor("roundtrip"), vae.decode(latent.mode()));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"clip-text-tiny", "clip-text-proj-tiny"})
    void clipText(String name) {
        GoldenCase c = golden(name);
        SafeTensors out = c.outputs();
        try (Scope scope = Scope.open();
             CLIPTextModel model = CLIPTextModel.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"), Device.CPU, DType.BFLOAT16)) {
            assertEquals(DType.BFLOAT16, model.dtype());
            Bfloat16Tolerance.assertWeightsIn(DType.BFLOAT16, model.parameters());
            CLIPTextModel.Output o = model.forward(c.inputs().tensor("input_ids"));
            for (int i = 0; i < o.hiddenStates().size(); i++) check(name + " hidden_states." + i, out.tensor("hidden_states." + i), o.hiddenStates().get(i));
            assertEquals(DType.FLOAT32, o.lastHiddenState().dtype());
            checkApplied(name + " last_hidden_state", out.tensor("last_hidden_state"), o.lastHiddenState());
            checkApplied(name + " pooler_output", out.tensor("pooler_output"), o.pooled());
            if (out.contains("text_embeds")) checkApplied(name + " text_embeds", out.tensor("text_embeds"), o.textEmbeds());
        }
    }

    /**
     * The SD pipeline case: the prompt embeddings; the UNet at every step on the reference's own step input and
     * context (its error alone, not the trajectory's); then the whole run from the reference's latents and noise,
     * whose image must be within the PSNR bound of the reference's.
     */
    @Test
    void sdPipeline() {
        GoldenCase c = golden("sd-pipeline-tiny");
        SafeTensors in = c.inputs(), out = c.outputs();
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        try (Scope scope = Scope.open();
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(c.dir().resolve("pipeline"), null, Device.CPU, DType.BFLOAT16)) {
            assertEquals(DType.BFLOAT16, pipe.dtype());
            Bfloat16Tolerance.assertWeightsIn(DType.BFLOAT16, pipe.unet().parameters());
            for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                PipelineRun run = new PipelineRun(c, entry.getKey());
                String p = run.prefix();
                JsonNode args = entry.getValue();
                SdPrompts.useScheduler(pipe, c, run, args);
                Tensor embeds = out.tensor(p + "prompt_embeds");
                checkApplied(p + "prompt_embeds", embeds, pipe.encodePrompt(args.get("prompt").asText()));
                boolean guided = ClassifierFreeGuidance.enabled(args.get("guidance_scale").asDouble());
                Tensor context = guided ? Tensor.cat(0, out.tensor(p + "negative_prompt_embeds"), embeds) : embeds;
                double[] timesteps = out.tensor(p + "timesteps").toDoubleArray();
                Tensor inputs = out.tensor(p + "unet_input"), outputs = out.tensor(p + "unet_output");
                for (int i = 0; i < timesteps.length; i++)
                    checkApplied(p + "unet_output[" + i + "] (on the reference's input)", outputs.get(i), pipe.unet().forward(inputs.get(i), timesteps[i], context));

                RecordedNoise replay = new RecordedNoise(p + "scheduler noise").stackIfPresent(in, p + "scheduler_noise");
                var request = SdPrompts.request(args, height, width).withLatents(in.tensor(p + "latents"));
                Tensor image = pipe.generate(request, null, replay, DenoisingListener.NONE).image();
                replay.assertAllUsed();
                assertEquals(DType.FLOAT32, image.dtype());
                double psnr = Bfloat16Tolerance.psnr(out.tensor(p + "image"), image);
                System.out.printf("bfloat16 %simage: PSNR %.1f dB against the float32 reference%n", p, psnr);
                assertTrue(psnr >= Bfloat16Tolerance.MIN_PSNR_DB, p + "image: PSNR " + psnr + " dB < " + Bfloat16Tolerance.MIN_PSNR_DB);
            }
        }
    }
}
