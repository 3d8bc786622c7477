package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.singlefile.SingleFileCheckpoint;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.ModelSource;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;

/**
 * The single-file case: the pipeline built from the configs and filled from one original-layout file (every
 * tensor placed or one a checkpoint carries beside the models), its run step by step and seeded; then one UNet
 * call with the main weights and one with the EMA weights ({@code model_ema.*}), which differ.
 */
final class SdSingleFileCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        Path file = c.dir().resolve(c.json().path("checkpoint").path("file").asText("checkpoint.safetensors")), config = c.dir().resolve("pipeline_config");
        JsonNode args = c.json().path("run");
        int height = c.json().path("height").asInt(), width = c.json().path("width").asInt();
        try (StableDiffusionPipeline pipe = new ModelSource(file, config, null, false).load(null, Device.CPU, DType.FLOAT32)) {
            PipelineRun run = new PipelineRun(c, "run");
            SdPrompts.useScheduler(pipe, c, run, args);
            SdPrompts.check(pipe, run, args);
            RecordedNoise replay = new RecordedNoise("run scheduler noise").stackIfPresent(in, "run.scheduler_noise");
            GenerationRequest request = SdPrompts.request(args, height, width).withLatents(in.tensor("run.latents"));
            run.result(pipe.generate(request, null, replay, run.steps()));
            run.checkSteps();
            replay.assertAllUsed();
            try (Generator generator = new Generator(args.get("generator_seed").asLong())) {
                run.seeded(pipe.generate(request, generator, NoiseSource.of(generator), DenoisingListener.NONE));
            }
            unetCall(c, pipe, "unet_check.out");
        }
        DiffusersConfig unet = DiffusersConfig.read(config.resolve("unet/config.json"));
        SingleFileCheckpoint.Models ema = SingleFileCheckpoint.load(file, DiffusersConfig.read(config.resolve("text_encoder/config.json")), unet,
                DiffusersConfig.read(config.resolve("vae/config.json")), true, Device.CPU, DType.FLOAT32);
        try (var t = ema.textEncoder(); var u = ema.unet(); var v = ema.vae()) {
            Tensor got = u.forward(in.tensor("unet_check.sample"), in.tensor("unet_check.timestep"), in.tensor("unet_check.encoder_hidden_states"), null, null);
            Compare.tensors("unet_check.out_ema", out.tensor("unet_check.out_ema"), got, c.atol(), c.rtol());
        }
    }

    private static void unetCall(GoldenCase c, StableDiffusionPipeline pipe, String key) {
        SafeTensors in = c.inputs();
        Tensor got = pipe.unet().forward(in.tensor("unet_check.sample"), in.tensor("unet_check.timestep"), in.tensor("unet_check.encoder_hidden_states"), null, null);
        Compare.tensors(key, c.outputs().tensor(key), got, c.atol(), c.rtol());
    }
}
