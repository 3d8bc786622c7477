package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.SizeConditions;
import org.panamasd.pipelines.StableDiffusionXLPipeline;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Schedulers;

/**
 * The SDXL pipeline case: per run both tokenizers' ids, both encoders' penultimate states, the context and the
 * pooled projection (and the negative ones), the size conditions, everything the UNet receives, every step, the
 * decoding and the image, with the reference's scheduler noise replayed; a seeded run must then reproduce the
 * reference's image.
 */
final class SdXlPipelineCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs();
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        try (StableDiffusionXLPipeline pipe = StableDiffusionXLPipeline.load(c.dir().resolve("pipeline"))) {
            for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                PipelineRun run = new PipelineRun(c, entry.getKey());
                JsonNode args = entry.getValue();
                pipe.scheduler().close();
                pipe.setScheduler(Schedulers.create(args.get("scheduler_class").asText(), c.config(args.get("scheduler_config"), run.prefix() + "scheduler_config")));
                SdPrompts.applyEta(pipe.scheduler(), args);

                String prompt = args.get("prompt").asText();
                String negative = SdPrompts.negativePrompt(args);
                prompts(pipe, run, prompt, "");
                if (run.has("negative_input_ids")) prompts(pipe, run, negative == null ? "" : negative, "negative_");

                GenerationRequest request = SdPrompts.request(args, height, width).withLatents(in.tensor(run.prefix() + "latents"));
                SizeConditions sizes = new SizeConditions(pair(args, "original_size"), pair(args, "crops_coords_top_left"), pair(args, "target_size"));
                StableDiffusionXLPipeline.Conditioning conditioning = pipe.conditioning(request, sizes);
                long batch = conditioning.context().size(0);
                if (run.has("negative_prompt_embeds")) run.tensor("negative_prompt_embeds", conditioning.context().narrow(0, 0, 1));
                if (run.has("negative_pooled_prompt_embeds")) run.tensor("negative_pooled_prompt_embeds", conditioning.pooled().narrow(0, 0, 1));
                run.tensor("add_time_ids", conditioning.timeIds().narrow(0, batch - 1, 1));
                run.tensor("unet_encoder_hidden_states", conditioning.context());
                run.tensor("unet_text_embeds", conditioning.pooled());
                run.tensor("unet_time_ids", conditioning.timeIds());

                RecordedNoise replay = new RecordedNoise(run.prefix() + "scheduler noise").stackIfPresent(in, run.prefix() + "scheduler_noise");
                run.result(pipe.generate(request, sizes, null, replay, run.steps()));
                run.checkSteps();
                replay.assertAllUsed();
                run.scalar("init_noise_sigma", pipe.scheduler().initNoiseSigma());

                try (Generator generator = new Generator(args.get("generator_seed").asLong())) {
                    run.seeded(pipe.generate(request, sizes, generator, NoiseSource.of(generator), DenoisingListener.NONE));
                }
            }
        }
    }

    /** One prompt's ids for both tokenizers, both penultimate states (the context's halves, text_encoder first), the context and the pooled projection. */
    private static void prompts(StableDiffusionXLPipeline pipe, PipelineRun run, String text, String kind) {
        run.ids(kind + "input_ids", pipe.tokenizer().inputIds(text, 77));
        run.ids(kind + "input_ids_2", pipe.tokenizer2().inputIds(text, 77));
        StableDiffusionXLPipeline.PromptEmbeddings e = pipe.encodePrompt(text);
        if (kind.isEmpty()) {
            long first = run.expectedSize("penultimate_hidden_states", 2);
            Tensor context = e.context();
            run.tensor("penultimate_hidden_states", context.narrow(2, 0, first));
            run.tensor("penultimate_hidden_states_2", context.narrow(2, first, context.size(2) - first));
        }
        run.tensor(kind + "prompt_embeds", e.context());
        run.tensor(kind + "pooled_prompt_embeds", e.pooled());
    }

    private static int[] pair(JsonNode args, String field) {
        JsonNode v = args.path(field);
        return v.isArray() ? new int[] {v.get(0).asInt(), v.get(1).asInt()} : null;
    }
}
