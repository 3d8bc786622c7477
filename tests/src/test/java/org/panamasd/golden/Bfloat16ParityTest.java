package org.panamasd.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.panamasd.golden.Bfloat16Tolerance.checkApplied;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.support.GoldenRoot;
import org.panamasd.support.NativeTest;

/**
 * The golden model and pipeline cases computed in bfloat16 (weights converted at load, inputs cast at each model's
 * boundary, outputs float32) against the reference's float32 outputs, within {@link Bfloat16Tolerance}'s bounds.
 * Each case first checks that its weights are bfloat16, and its outputs must differ from the reference by more
 * than float32 would (bfloat16 silently not applied fails).
 */
@Tag("golden")
class Bfloat16ParityTest extends NativeTest {

    private static GoldenCase golden(String name) {
        return new GoldenCase(GoldenRoot.directory(name));
    }

    /** The model cases, through their float32 checks with bfloat16's comparison ({@link CaseTolerance}). */
    @ParameterizedTest
    @ValueSource(strings = {"unet-sd1-tiny", "unet-sd2-tiny", "unet-sdxl-tiny", "vae-kl-tiny", "clip-text-tiny", "clip-text-proj-tiny"})
    void modelCase(String name) throws Exception {
        GoldenCase c = golden(name);
        GoldenParityTest.CaseCheck check = switch (c.kind()) {
            case "unet2d_condition" -> new UNetCaseCheck(DType.BFLOAT16);
            case "autoencoder_kl" -> new VaeCaseCheck(DType.BFLOAT16);
            case "clip_text_model" -> new ClipTextCaseCheck(DType.BFLOAT16);
            default -> throw new AssertionError(name + ": kind " + c.kind());
        };
        try (Scope scope = Scope.open()) {
            check.check(c);
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
