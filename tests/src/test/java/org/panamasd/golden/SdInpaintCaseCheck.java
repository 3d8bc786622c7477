package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.models.vae.LatentDistribution;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.InpaintingInputs;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.pipelines.StrengthSchedule;
import org.panamasd.schedulers.NoiseSource;

/**
 * The inpainting case: the preprocessed image, the binarised mask, the masked image and both latent
 * distributions; then per run (9-channel UNet at strength 1 and below, and a 4-channel UNet that blends) the
 * schedule, the sampled latents, the latent mask, the start, every step (the 9-channel input, the output, the
 * guided prediction, the latents after the step and, for the 4-channel UNet, after its blend: the blend target
 * itself is what step_latents holds outside the mask), the decoding and the image; the reference's draws replayed
 * in its order, then a seeded run that must reproduce its image.
 */
final class SdInpaintCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        double atol = c.atol(), rtol = c.rtol();
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        Tensor image = in.tensor("init_image"), mask = in.tensor("mask_image");
        try (StableDiffusionPipeline inpaint = StableDiffusionPipeline.load(c.dir().resolve("pipeline"));
             StableDiffusionPipeline legacy = withUnet(c.dir().resolve("pipeline"), c.dir().resolve("unet_legacy"))) {
            Tensor preprocessed = inpaint.preprocess(image);
            Compare.tensors("image_preprocessed", out.tensor("image_preprocessed"), preprocessed, atol, rtol);
            Tensor maskCondition = InpaintingInputs.maskCondition(mask, image.shape(), inpaint.vaeScaleFactor());
            Compare.tensors("mask_condition", out.tensor("mask_condition"), maskCondition, 0, 0);
            Tensor maskedImage = InpaintingInputs.maskedImage(preprocessed, maskCondition);
            Compare.tensors("masked_image", out.tensor("masked_image"), maskedImage, atol, rtol);
            for (String[] part : new String[][] {{"image_vae", "p"}, {"masked_image_vae", "m"}}) {
                LatentDistribution q = inpaint.encodeImage(part[1].equals("p") ? preprocessed : maskedImage);
                Compare.tensors(part[0] + "_mean", out.tensor(part[0] + "_mean"), q.mean(), atol, rtol);
                Compare.tensors(part[0] + "_std", out.tensor(part[0] + "_std"), q.std(), atol, rtol);
            }

            for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                PipelineRun run = new PipelineRun(c, entry.getKey());
                JsonNode args = entry.getValue();
                String p = run.prefix();
                StableDiffusionPipeline pipe = args.path("unet").asText().equals("legacy") ? legacy : inpaint;
                if (pipe.unet().config().inChannels() != args.path("unet_in_channels").asInt())
                    throw new AssertionError(p + "the run's UNet takes " + args.path("unet_in_channels").asInt() + " channels, ours " + pipe.unet().config().inChannels());
                double strength = args.get("strength").asDouble();
                int steps = args.get("num_inference_steps").asInt();
                SdPrompts.useScheduler(pipe, c, run, args);
                SdPrompts.check(pipe, run, args);

                StrengthSchedule plan = StrengthSchedule.apply(pipe.scheduler(), steps, strength);
                run.values("all_timesteps", pipe.scheduler().timesteps());
                run.values("timesteps", plan.timesteps());
                run.scalar("init_noise_sigma", pipe.scheduler().initNoiseSigma());
                if (run.has("latent_timestep")) run.scalar("latent_timestep", plan.latentTimestep());
                RecordedNoise prepared = draws(in, p, false);
                InpaintingInputs inputs = pipe.prepareInpainting(image, mask, strength, plan, prepared);
                prepared.assertAllUsed();
                if (run.has("image_latents")) run.tensor("image_latents", inputs.imageLatents());
                else if (inputs.imageLatents() != null) throw new AssertionError(p + "image latents drawn where the reference draws none");
                run.tensor("mask_latents", inputs.maskLatents());
                run.tensor("masked_image_latents", inputs.maskedImageLatents());
                run.tensor("initial_latents", inputs.initialLatents());

                RecordedNoise replay = draws(in, p, true);
                GenerationRequest request = SdPrompts.request(args, height, width);
                run.result(pipe.inpaint(request, image, mask, strength, replay, replay, run.steps()));
                run.checkSteps();
                replay.assertAllUsed();

                try (Generator generator = new Generator(args.get("generator_seed").asLong())) {
                    NoiseSource seeded = NoiseSource.of(generator);
                    run.seeded(pipe.inpaint(request, image, mask, strength, seeded, seeded, DenoisingListener.NONE));
                }
            }
        }
    }

    /** The run's recorded draws in the reference's order (the image latents' only where it drew them), with the scheduler's or not. */
    private static RecordedNoise draws(SafeTensors in, String p, boolean withScheduler) {
        RecordedNoise noise = new RecordedNoise(p + "draws");
        if (in.contains(p + "image_vae_noise")) noise.single(in, p + "image_vae_noise");
        noise.single(in, p + "latent_noise").single(in, p + "masked_image_vae_noise");
        return withScheduler ? noise.stackIfPresent(in, p + "scheduler_noise") : noise;
    }

    /** The pipeline directory's components with another UNet (the case's 4-channel one, as the reference swaps pipe.unet). */
    private static StableDiffusionPipeline withUnet(Path pipeline, Path unet) {
        return new StableDiffusionPipeline(CLIPTokenizer.load(pipeline.resolve("tokenizer")), 77, CLIPTextModel.load(pipeline.resolve("text_encoder")),
                UNet2DConditionModel.load(unet), AutoencoderKL.load(pipeline.resolve("vae")),
                StableDiffusionPipeline.scheduler(DiffusersConfig.read(pipeline.resolve("scheduler/scheduler_config.json")), null));
    }
}
