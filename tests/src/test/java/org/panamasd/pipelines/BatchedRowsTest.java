package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.support.NativeTest;

/**
 * What a service relies on, on the shipped Turbo student: independent requests batched with
 * {@link StableDiffusionPipeline#generateRows} give each request's own image, and threads sharing the models
 * (each with its own scheduler) give the image one thread gives.
 */
class BatchedRowsTest extends NativeTest {
    static final Path MODEL = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-turbo");
    /** Image values in [0, 1]: a batch sums in another order than a single run, nothing more. */
    static final double BATCH_TOLERANCE = 1e-4;

    private static StableDiffusionPipeline pipe;
    private static DiffusersConfig schedulerConfig;

    @BeforeAll
    static void load() {
        pipe = StableDiffusionPipeline.load(MODEL, "EulerAncestralDiscreteScheduler");
        schedulerConfig = DiffusersConfig.read(MODEL.resolve("scheduler/scheduler_config.json"));
    }

    @AfterAll
    static void close() {
        pipe.close();
    }

    /** Guided, stochastic (ancestral Euler draws at every step) and with differing prompts, negatives and seeds. */
    @Test
    void aBatchedRowEqualsItsRequestRunAlone() {
        List<GenerationRequest> requests = List.of(
                GenerationRequest.of("a photo of an ankle boot", 3, 3.0, 32, 32, 11),
                GenerationRequest.of("a red dress", 3, 3.0, 32, 32, 12).withNegativePrompt("trousers"),
                GenerationRequest.of("sneakers", 3, 3.0, 32, 32, 13));
        try (Scope scope = Scope.open(); Scheduler scheduler = StableDiffusionPipeline.scheduler(schedulerConfig, "EulerAncestralDiscreteScheduler")) {
            float[][] batched = batched(requests, scheduler);
            for (int i = 0; i < requests.size(); i++) {
                float[] alone = pipe.generate(requests.get(i)).image().toFloatArray();
                assertClose(toDouble(alone), toDouble(batched[i]), BATCH_TOLERANCE, 0);
            }
            assertFalse(java.util.Arrays.equals(batched[0], batched[2]), "different requests, different images");
        }
    }

    @Test
    void twoThreadsGivingTheSameSeedGetTheImageOneThreadGets() throws Exception {
        GenerationRequest request = GenerationRequest.of("a coat", 2, 3.0, 32, 32, 5);
        float[] single;
        try (Scope scope = Scope.open(); Scheduler scheduler = StableDiffusionPipeline.scheduler(schedulerConfig, null)) {
            single = batched(List.of(request), scheduler)[0];
        }
        int threads = 2, rounds = 3;
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);  // platform threads: inference mode is per OS thread
        try {
            List<Future<List<float[]>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++)
                results.add(pool.submit(() -> {
                    List<float[]> images = new ArrayList<>();
                    try (Scheduler scheduler = StableDiffusionPipeline.scheduler(schedulerConfig, null)) {
                        for (int r = 0; r < rounds; r++) {
                            start.await();  // both threads inside the shared UNet at once
                            try (Scope scope = Scope.open()) {
                                images.add(batched(List.of(request), scheduler)[0]);
                            }
                        }
                    }
                    return images;
                }));
            for (Future<List<float[]>> f : results)
                for (float[] image : get(f)) assertArrayEquals(single, image, "a thread's image differs from the single thread's");
        } finally {
            pool.shutdown();
        }
    }

    private static float[][] batched(List<GenerationRequest> requests, Scheduler scheduler) {
        List<Generator> generators = new ArrayList<>();
        try {
            List<StableDiffusionPipeline.BatchRow> rows = new ArrayList<>();
            for (GenerationRequest r : requests) {
                Generator g = new Generator(r.seed());
                generators.add(g);
                rows.add(new StableDiffusionPipeline.BatchRow(r.prompt(), r.negativePrompt(), g));
            }
            var image = pipe.generateRows(rows, requests.getFirst(), scheduler, DenoisingListener.NONE).image();
            float[][] out = new float[requests.size()][];
            for (int i = 0; i < out.length; i++) out[i] = image.narrow(0, i, 1).contiguous().toFloatArray();
            return out;
        } finally {
            generators.forEach(Generator::close);
        }
    }

    private static <T> T get(Future<T> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    private static double[] toDouble(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) out[i] = values[i];
        return out;
    }
}
