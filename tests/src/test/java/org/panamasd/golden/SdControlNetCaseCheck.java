package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.controlnet.ControlNetModel;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.pipelines.ControlNetConditioning;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.NoiseSource;

/**
 * The ControlNet case: the conditioning embedding; per run the first step's ControlNet input, its scaled residuals
 * (and, at scale 0.6, the unscaled ones), the UNet's output without them; then the whole run with the ControlNet at
 * every step, step by step, and seeded.
 */
final class SdControlNetCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        double atol = c.atol(), rtol = c.rtol();
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        Tensor image = in.tensor("control_image");
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(c.dir().resolve("pipeline"));
             ControlNetModel controlnet = ControlNetModel.load(c.dir().resolve("pipeline/controlnet"))) {
            Compare.tensors("controlnet_cond_embedding", out.tensor("controlnet_cond_embedding"), controlnet.conditioningEmbedding(image), atol, rtol);
            for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                PipelineRun run = new PipelineRun(c, entry.getKey());
                JsonNode args = entry.getValue();
                String p = run.prefix();
                double scale = args.get("controlnet_conditioning_scale").asDouble();
                SdPrompts.useScheduler(pipe, c, run, args);
                SdPrompts.check(pipe, run, args);
                GenerationRequest request = SdPrompts.request(args, height, width).withLatents(in.tensor(p + "latents"));
                boolean guidance = ClassifierFreeGuidance.enabled(request.guidanceScale());
                Tensor prompt = pipe.encodePrompt(request.prompt());
                Tensor context = guidance ? Tensor.cat(0, pipe.encodePrompt(request.negativePrompt() == null ? "" : request.negativePrompt()), prompt) : prompt;
                Tensor conditioning = guidance ? Tensor.cat(0, image, image) : image;
                run.tensor("controlnet_cond", conditioning);

                // the first step's ControlNet call, and the UNet without it
                pipe.scheduler().setTimesteps(request.steps());
                double t0 = pipe.scheduler().timesteps()[0];
                Tensor latents = request.latents().mul(pipe.scheduler().initNoiseSigma());
                Tensor input = pipe.scheduler().scaleModelInput(guidance ? Tensor.cat(0, latents, latents) : latents, t0);
                run.tensor("step0.controlnet_input", input);
                Tensor timesteps = UNet2DConditionModel.timesteps(t0, input);
                residuals(run, "", controlnet.forward(input, timesteps, context, conditioning, scale));
                if (run.has("step0.mid_block_res_sample_unscaled")) residuals(run, "_unscaled", controlnet.forward(input, timesteps, context, conditioning, 1.0));
                run.tensor("step0.unet_output_without_control", pipe.unet().forward(input, timesteps, context, null, null));

                RecordedNoise replay = new RecordedNoise(p + "scheduler noise").stackIfPresent(in, p + "scheduler_noise");
                ControlNetConditioning control = new ControlNetConditioning(controlnet, image, scale);
                run.result(pipe.generate(request, null, replay, run.steps(), control));
                run.checkSteps();
                replay.assertAllUsed();
                run.scalar("init_noise_sigma", pipe.scheduler().initNoiseSigma());
                try (Generator generator = new Generator(args.get("generator_seed").asLong())) {
                    run.seeded(pipe.generate(request, generator, NoiseSource.of(generator), DenoisingListener.NONE, control));
                }
            }
        }
    }

    private static void residuals(PipelineRun run, String suffix, UNet2DConditionModel.Residuals r) {
        for (int k = 0; k < r.down().size(); k++) run.tensor("step0.down_block_res_samples" + suffix + "." + k, r.down().get(k));
        if (run.has("step0.down_block_res_samples" + suffix + "." + r.down().size()))
            throw new AssertionError(run.prefix() + "the reference has more than " + r.down().size() + " down residuals");
        run.tensor("step0.mid_block_res_sample" + suffix, r.mid());
    }
}
