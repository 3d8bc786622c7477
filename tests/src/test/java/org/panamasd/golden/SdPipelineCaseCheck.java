package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.io.SafeTensors;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;

/**
 * The Stable Diffusion pipeline case: for each run, the tokens, prompt embeddings, schedule, every step's UNet
 * input and output, guided prediction and latents, then the decoding and the image; the scheduler's noise is
 * the reference's, replayed in order. A seeded run must then reproduce the reference's image.
 */
final class SdPipelineCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs();
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(c.dir().resolve("pipeline"))) {
            for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                PipelineRun run = new PipelineRun(c, entry.getKey());
                JsonNode args = entry.getValue();
                SdPrompts.useScheduler(pipe, c, run, args);
                SdPrompts.check(pipe, run, args);

                RecordedNoise replay = new RecordedNoise(run.prefix() + "scheduler noise").stackIfPresent(in, run.prefix() + "scheduler_noise");
                GenerationRequest request = SdPrompts.request(args, height, width).withLatents(in.tensor(run.prefix() + "latents"));
                run.result(pipe.generate(request, null, replay, run.steps()));
                run.checkSteps();
                replay.assertAllUsed();
                run.scalar("init_noise_sigma", pipe.scheduler().initNoiseSigma());

                try (Generator generator = new Generator(args.get("generator_seed").asLong())) {
                    run.seeded(pipe.generate(request, generator, NoiseSource.of(generator), DenoisingListener.NONE));
                }
            }
        }
    }
}
