package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.support.GoldenRoot;
import org.panamasd.support.NativeTest;

/** The pipeline's own behaviour on the tiny golden components: input checks, seeding, image to image. */
class StableDiffusionPipelineTest extends NativeTest {
    private static Path model;

    @BeforeAll
    static void tinyPipeline() {
        // the tiny pipeline of the golden cases: a failure where they are required, else the class is skipped
        model = GoldenRoot.directory("sd-pipeline-tiny/pipeline");
    }

    @Test
    void inputsAreCheckedFirst() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model); Scope scope = Scope.open()) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> pipe.generate(GenerationRequest.of("x", 2, 7.5, 30, 32, 0)))
                    .getMessage().contains("divisible by 8"));
            assertThrows(IllegalArgumentException.class, () -> pipe.generate(GenerationRequest.of("x", 0, 7.5, 32, 32, 0)));
            var latents = assertThrows(IllegalArgumentException.class,
                    () -> pipe.generate(GenerationRequest.of("x", 2, 7.5, 32, 32, 0).withLatents(Tensor.zeros(1, 4, 8, 8))));
            assertTrue(latents.getMessage().contains("[1, 4, 16, 16]"), latents.getMessage());
        }
    }

    @Test
    void theSameSeedGivesTheSameImageAndAnotherSeedAnother() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model); Scope scope = Scope.open()) {
            float[] a = pipe.generate(GenerationRequest.of("a red cube", 3, 5.0, 32, 32, 7)).image().toFloatArray();
            float[] b = pipe.generate(GenerationRequest.of("a red cube", 3, 5.0, 32, 32, 7)).image().toFloatArray();
            float[] c = pipe.generate(GenerationRequest.of("a red cube", 3, 5.0, 32, 32, 8)).image().toFloatArray();
            assertArrayEquals(a, b);
            assertFalse(java.util.Arrays.equals(a, c));
        }
    }

    /** The scheduler config Stable Diffusion 1.5 directories ship (runwayml/stable-diffusion-v1-5). */
    private static final String SD15_SCHEDULER = """
            {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
             "steps_offset": 1, "trained_betas": null, "clip_sample": false}
            """;

    /** A copy of the tiny pipeline with another scheduler config. */
    private static Path withSchedulerConfig(Path dir, String json) throws java.io.IOException {
        try (var files = Files.walk(model)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = dir.resolve(model.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Files.writeString(dir.resolve("scheduler/scheduler_config.json"), json);
        return dir;
    }

    @Test
    void anSd15LayoutGeneratesWithItsPndmSchedulerOrTheOneChosen(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path sd15 = withSchedulerConfig(tmp.resolve("sd15"), SD15_SCHEDULER);
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(sd15); Scope scope = Scope.open(); Generator g = new Generator(1)) {
            assertInstanceOf(org.panamasd.schedulers.PNDMScheduler.class, pipe.scheduler());
            List<Double> seen = new ArrayList<>();
            Tensor image = pipe.generate(GenerationRequest.of("an ankle boot", 5, 7.5, 32, 32, 1), g, NoiseSource.of(g),
                    (i, t, in, out, guided, latents) -> seen.add(t)).image();
            // PLMS: one model call per step plus the repeated second timestep of its improved Euler start
            assertEquals(List.of(801.0, 601.0, 601.0, 401.0, 201.0, 1.0), seen);
            for (float v : image.toFloatArray()) assertTrue(Float.isFinite(v), "PNDM image is finite");
        }
        for (String chosen : List.of("EulerDiscreteScheduler", "LMSDiscreteScheduler")) {
            try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(sd15, chosen); Scope scope = Scope.open()) {
                assertEquals(chosen, pipe.scheduler().getClass().getSimpleName());
                assertArrayEquals(new long[] {1, 3, 32, 32}, pipe.generate(GenerationRequest.of("a sneaker", 3, 7.5, 32, 32, 1)).image().shape());
            }
        }
        // a class that is not built here fails by name, unless the caller picks one
        Path unknown = withSchedulerConfig(tmp.resolve("unknown"), SD15_SCHEDULER.replace("PNDMScheduler", "UniPCMultistepScheduler"));
        var e = assertThrows(IllegalArgumentException.class, () -> StableDiffusionPipeline.load(unknown));
        assertTrue(e.getMessage().contains("UniPCMultistepScheduler"), e.getMessage());
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(unknown, "DDIMScheduler")) {
            assertEquals("DDIMScheduler", pipe.scheduler().getClass().getSimpleName());
        }
    }

    @Test
    void imageToImageDenoisesTheLastStrengthShareOfTheSchedule() {
        for (String scheduler : List.of("EulerDiscreteScheduler", "DDIMScheduler", "HeunDiscreteScheduler")) {
            try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model); Scope scope = Scope.open(); Generator g = new Generator(4)) {
                pipe.scheduler().close();
                pipe.setScheduler(StableDiffusionPipeline.scheduler(DiffusersConfig.read(model.resolve("scheduler/scheduler_config.json")), scheduler));
                Tensor image = Tensor.rand(g, 1, 3, 32, 32);
                List<Double> seen = new ArrayList<>();
                GenerationResult result = pipe.imageToImage(GenerationRequest.of("a horse", 10, 4.0, 32, 32, 0), image, 0.6, g, NoiseSource.of(g),
                        (i, t, in, out, guided, latents) -> seen.add(t));
                pipe.scheduler().setTimesteps(10);
                double[] all = pipe.scheduler().timesteps();
                // strength 0.6 of 10 steps keeps the last 6: 6 model calls, or 2 * 6 - 1 for Heun (a first-order start)
                int calls = pipe.scheduler().order() == 1 ? 6 : 2 * 6 - 1;
                assertEquals(calls, seen.size(), scheduler + " model calls");
                assertEquals(all[all.length - calls], seen.get(0), scheduler + ": starts 6 steps before the end");
                assertEquals(all[all.length - 1], seen.get(seen.size() - 1), scheduler);
                assertArrayEquals(new long[] {1, 3, 32, 32}, result.image().shape());
                assertThrows(IllegalArgumentException.class, () -> pipe.imageToImage(GenerationRequest.of("a horse", 10, 4.0, 32, 32, 0), image, 0, g,
                        NoiseSource.of(g), DenoisingListener.NONE));
            }
        }
    }
}
