package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.vae.LatentDistribution;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.pipelines.StrengthSchedule;
import org.panamasd.schedulers.NoiseSource;

/**
 * The image-to-image case: the preprocessed image and its latent distribution, then per run the schedule that
 * strength selects, the sampled and noised image latents, the prompts, every step, the decoding and the image.
 * The reference's draws (VAE sample, add_noise noise, then the scheduler's) are replayed in that order; a
 * seeded run must then reproduce the reference's image.
 */
final class SdImg2ImgCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        double atol = c.atol(), rtol = c.rtol();
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        Tensor image = in.tensor("init_image");
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(c.dir().resolve("pipeline"))) {
            Tensor preprocessed = pipe.preprocess(image);
            Compare.tensors("image_preprocessed", out.tensor("image_preprocessed"), preprocessed, atol, rtol);
            LatentDistribution q = pipe.encodeImage(preprocessed);
            Compare.tensors("vae_latent_mean", out.tensor("vae_latent_mean"), q.mean(), atol, rtol);
            Compare.tensors("vae_latent_std", out.tensor("vae_latent_std"), q.std(), atol, rtol);

            for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                PipelineRun run = new PipelineRun(c, entry.getKey());
                JsonNode args = entry.getValue();
                String p = run.prefix();
                double strength = args.get("strength").asDouble();
                int steps = args.get("num_inference_steps").asInt();
                SdPrompts.useScheduler(pipe, c, run, args);
                SdPrompts.check(pipe, run, args);

                StrengthSchedule plan = StrengthSchedule.apply(pipe.scheduler(), steps, strength);
                run.values("all_timesteps", pipe.scheduler().timesteps());
                run.values("timesteps", plan.timesteps());
                run.scalar("latent_timestep", plan.latentTimestep());
                RecordedNoise latentNoise = new RecordedNoise(p + "image latent noise").single(in, p + "vae_sample_noise").single(in, p + "add_noise_noise");
                StableDiffusionPipeline.ImageLatents latents = pipe.imageLatents(preprocessed, plan.latentTimestep(), latentNoise);
                latentNoise.assertAllUsed();
                run.tensor("image_latents", latents.encoded());
                run.tensor("noisy_latents", latents.noisy());

                // the whole run, drawing everything from one replay in the reference's order
                RecordedNoise replay = new RecordedNoise(p + "draws").single(in, p + "vae_sample_noise").single(in, p + "add_noise_noise")
                        .stackIfPresent(in, p + "scheduler_noise");
                GenerationRequest request = SdPrompts.request(args, height, width);
                run.result(pipe.imageToImage(request, image, strength, replay, replay, run.steps()));
                run.checkSteps();
                replay.assertAllUsed();

                try (Generator generator = new Generator(args.get("generator_seed").asLong())) {
                    NoiseSource seeded = NoiseSource.of(generator);
                    run.seeded(pipe.imageToImage(request, image, strength, seeded, seeded, DenoisingListener.NONE));
                }
            }
        }
    }
}
