package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.GenerationResult;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;

/**
 * The Stable Diffusion pipeline case: for each run, the tokens, prompt embeddings, schedule, every step's UNet
 * input and output, guided prediction and latents, then the decoding and the image; the scheduler's noise is
 * the reference's, replayed in order.
 */
final class SdPipelineCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        double atol = c.atol(), rtol = c.rtol();
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(c.dir().resolve("pipeline"))) {
            for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                String p = entry.getKey() + ".";
                JsonNode run = entry.getValue();
                DiffusersConfig schedulerConfig = DiffusersConfig.parse(run.get("scheduler_config").toString());
                pipe.scheduler().close();
                pipe.setScheduler(StableDiffusionPipeline.scheduler(schedulerConfig, run.get("scheduler_class").asText()));

                String prompt = run.get("prompt").asText();
                Compare.exact(p + "input_ids", out.tensor(p + "input_ids").toLongArray(), pipe.tokenizer().inputIds(prompt, 77));
                Compare.tensors(p + "prompt_embeds", out.tensor(p + "prompt_embeds"), pipe.encodePrompt(prompt), atol, rtol);
                if (out.contains(p + "negative_input_ids")) {
                    String negative = run.get("negative_prompt").isNull() ? "" : run.get("negative_prompt").asText();
                    Compare.exact(p + "negative_input_ids", out.tensor(p + "negative_input_ids").toLongArray(), pipe.tokenizer().inputIds(negative, 77));
                    Compare.tensors(p + "negative_prompt_embeds", out.tensor(p + "negative_prompt_embeds"), pipe.encodePrompt(negative), atol, rtol);
                }

                Tensor recorded = in.tensor(p + "scheduler_noise");
                int[] draws = {0};
                NoiseSource replay = (shape, dtype, device) -> {
                    if (draws[0] >= recorded.size(0)) throw new AssertionError(p + "the scheduler drew more noise than the reference");
                    return recorded.get(draws[0]++);
                };
                GenerationRequest request = new GenerationRequest(prompt, run.get("negative_prompt").isNull() ? null : run.get("negative_prompt").asText(),
                        run.get("num_inference_steps").asInt(), run.get("guidance_scale").asDouble(), 0, height, width, run.get("generator_seed").asLong(),
                        in.tensor(p + "latents"));
                Tensor unetInputs = out.tensor(p + "unet_input"), unetOutputs = out.tensor(p + "unet_output"), steps = out.tensor(p + "step_latents");
                Tensor guidedOutputs = out.contains(p + "noise_pred_guided") ? out.tensor(p + "noise_pred_guided") : null;
                GenerationResult result = pipe.generate(request, null, replay, (i, t, unetInput, unetOutput, guided, latents) -> {
                    Compare.values(p + "timesteps[" + i + "]", new double[] {out.tensor(p + "timesteps").get(i).item()}, new double[] {t}, atol, rtol);
                    Compare.tensors(p + "unet_input[" + i + "]", unetInputs.get(i), unetInput, atol, rtol);
                    Compare.tensors(p + "unet_output[" + i + "]", unetOutputs.get(i), unetOutput, atol, rtol);
                    if (guidedOutputs != null) Compare.tensors(p + "noise_pred_guided[" + i + "]", guidedOutputs.get(i), guided, atol, rtol);
                    Compare.tensors(p + "step_latents[" + i + "]", steps.get(i), latents, atol, rtol);
                });
                if (draws[0] != run.path("scheduler_noise_draws").asInt(draws[0]))
                    throw new AssertionError(p + "the scheduler drew " + draws[0] + " noise tensors, the reference " + run.get("scheduler_noise_draws"));
                Compare.values(p + "init_noise_sigma", new double[] {out.tensor(p + "init_noise_sigma").item()}, new double[] {pipe.scheduler().initNoiseSigma()}, atol, rtol);
                Compare.tensors(p + "final_latents", out.tensor(p + "final_latents"), result.latents(), atol, rtol);
                Compare.tensors(p + "decoded", out.tensor(p + "decoded"), result.decoded(), atol, rtol);
                Compare.tensors(p + "image", out.tensor(p + "image"), result.image(), atol, rtol);

                // The reference drew its scheduler noise from torch.Generator().manual_seed(seed): libtorch's CPU
                // generator behind ours draws the same numbers, so a seeded run reproduces the reference's image.
                try (Generator generator = new Generator(run.get("generator_seed").asLong())) {
                    GenerationResult seeded = pipe.generate(request, generator, NoiseSource.of(generator), DenoisingListener.NONE);
                    Compare.tensors(p + "final_latents (seeded)", out.tensor(p + "final_latents"), seeded.latents(), atol, rtol);
                    Compare.tensors(p + "image (seeded)", out.tensor(p + "image"), seeded.image(), atol, rtol);
                }
            }
        }
    }
}
