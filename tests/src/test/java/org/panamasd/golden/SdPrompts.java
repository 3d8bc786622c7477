package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.DDIMScheduler;
import org.panamasd.schedulers.Scheduler;

/** What the pipeline cases share: a run's scheduler (SD 1.x), eta, prompts (SD 1.x) and request. */
final class SdPrompts {

    /** The run's scheduler class and config (DDIM with the run's eta, which the reference passes to each step). */
    static void useScheduler(StableDiffusionPipeline pipe, GoldenCase c, PipelineRun run, JsonNode args) {
        pipe.scheduler().close();
        pipe.setScheduler(StableDiffusionPipeline.scheduler(c.config(args.get("scheduler_config"), run.prefix() + "scheduler_config"),
                args.get("scheduler_class").asText()));
        applyEta(pipe.scheduler(), args);
    }

    /** The run's eta (default 0), which the reference passes to DDIM's steps only. */
    static void applyEta(Scheduler scheduler, JsonNode args) {
        if (scheduler instanceof DDIMScheduler ddim) ddim.eta(args.path("eta").asDouble(0));
    }

    /** The prompt's (and, where recorded, the negative prompt's: None encodes "") tokens and embeddings. */
    static void check(StableDiffusionPipeline pipe, PipelineRun run, JsonNode args) {
        String prompt = args.get("prompt").asText();
        run.ids("input_ids", pipe.tokenizer().inputIds(prompt, 77));
        run.tensor("prompt_embeds", pipe.encodePrompt(prompt));
        if (run.has("negative_input_ids")) {
            String negative = negativePrompt(args) == null ? "" : negativePrompt(args);
            run.ids("negative_input_ids", pipe.tokenizer().inputIds(negative, 77));
            run.tensor("negative_prompt_embeds", pipe.encodePrompt(negative));
        }
    }

    static String negativePrompt(JsonNode args) {
        JsonNode negative = args.path("negative_prompt");
        return negative.isNull() || negative.isMissingNode() ? null : negative.asText();
    }

    static GenerationRequest request(JsonNode args, int height, int width) {
        return new GenerationRequest(args.get("prompt").asText(), negativePrompt(args), args.get("num_inference_steps").asInt(),
                args.get("guidance_scale").asDouble(), 0, height, width, args.get("generator_seed").asLong(), null);
    }

    private SdPrompts() {}
}
