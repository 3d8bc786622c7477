package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.lora.LoraAdapter;
import org.panamasd.lora.LoraFusion;
import org.panamasd.lora.LoraLayer;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;

/**
 * The LoRA case, for both files (kohya/A1111 and diffusers): every adapted layer's delta (alpha / rank) up down
 * against the reference's, each module found (kohya names matched against the model's); then each run's scale
 * fused into the pipeline (scale 0: none), its prompt embeddings, every step and the image; after each run the
 * unfused weights must equal the file's bit for bit.
 */
final class SdLoraCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        JsonNode args = c.json().path("run");
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(c.dir().resolve("pipeline"))) {
            Map<String, Map<String, Tensor>> weights = pipe.adaptableWeights();
            Map<String, float[]> original = snapshot(weights);
            SdPrompts.useScheduler(pipe, c, new PipelineRun(c, "run"), args);
            Compare.exact("input_ids", out.tensor("input_ids").toLongArray(), pipe.tokenizer().inputIds(args.get("prompt").asText(), 77));
            Compare.exact("negative_input_ids", out.tensor("negative_input_ids").toLongArray(), pipe.tokenizer().inputIds(SdPrompts.negativePrompt(args), 77));
            for (String file : new String[] {"lora_kohya.safetensors", "lora_diffusers.safetensors"}) {
                try (LoraAdapter adapter = LoraAdapter.load(c.dir().resolve(file))) {
                    int deltas = 0;
                    for (LoraLayer layer : adapter.layers()) {
                        String key = "delta_weight." + layer.component() + "." + LoraFusion.module(weights, adapter, layer);
                        try (Scope s = Scope.open()) {
                            Compare.tensors(file + ": " + key, out.tensor(key), layer.delta(out.entry(key).shape()), c.atol(), c.rtol());
                        }
                        deltas++;
                    }
                    long expected = out.keys().stream().filter(k -> k.startsWith("delta_weight.")).count();
                    if (deltas != expected) throw new AssertionError(file + ": " + deltas + " adapted layers, the reference has " + expected);
                    for (Map.Entry<String, JsonNode> entry : c.json().path("runs").properties()) {
                        PipelineRun run = new PipelineRun(c, entry.getKey());
                        double scale = entry.getValue().get("lora_scale").asDouble();
                        try (Scope s = Scope.open(); LoraFusion.FusedLora fused = LoraFusion.fuse(weights, List.of(new LoraFusion.Scaled(adapter, scale)))) {
                            if (scale != 0 && fused.adaptedWeights() != expected) throw new AssertionError(file + ": fused " + fused.adaptedWeights() + " weights");
                            run.tensor("prompt_embeds", pipe.encodePrompt(args.get("prompt").asText()));
                            run.tensor("negative_prompt_embeds", pipe.encodePrompt(SdPrompts.negativePrompt(args)));
                            RecordedNoise replay = new RecordedNoise(file + " " + run.prefix() + "scheduler noise").stackIfPresent(in, "scheduler_noise");
                            GenerationRequest request = SdPrompts.request(args, height, width).withLatents(in.tensor("latents"));
                            run.result(pipe.generate(request, null, replay, run.steps()));
                            replay.assertAllUsed();
                        }
                        assertRestored(file + " after " + run.prefix(), original, weights);
                    }
                }
            }
            Compare.values("timesteps", out.tensor("timesteps").toDoubleArray(), pipe.scheduler().timesteps(), c.atol(), c.rtol());
        }
    }

    private static Map<String, float[]> snapshot(Map<String, Map<String, Tensor>> weights) {
        Map<String, float[]> values = new HashMap<>();
        weights.forEach((component, params) -> params.forEach((key, t) -> values.put(component + "." + key, t.toFloatArray())));
        return values;
    }

    private static void assertRestored(String what, Map<String, float[]> original, Map<String, Map<String, Tensor>> weights) {
        weights.forEach((component, params) -> params.forEach((key, t) -> {
            if (!java.util.Arrays.equals(original.get(component + "." + key), t.toFloatArray()))
                throw new AssertionError(what + ": " + component + "." + key + " is not its original value after unfusing");
        }));
    }
}
