package org.panamasd.stress;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.support.NativeTest;

/**
 * A service under load, for minutes (opt in: {@code scripts/test.sh -Pstress}, which also records JFR):
 * four threads share one set of model weights (the tiny golden SD pipeline, each thread with its own
 * scheduler), requests are cancelled at random steps, and at the end the weights are closed while requests
 * are still running. It must end with no crash, no live tensor handle and no allocator byte above the
 * baseline. {@code -Dstress.seconds=N} sets the duration (default 180).
 */
@Tag("stress")
class BridgeStressTest extends NativeTest {
    private static final Path PIPELINE = Path.of(System.getProperty("golden.root", "../shared/golden"), "sd-pipeline-tiny", "pipeline");

    @Test
    void fourThreadsSharingWeightsWithRandomCancelsAndAClosingService() throws Exception {
        Path dir = PIPELINE.isAbsolute() ? PIPELINE : Path.of(System.getProperty("panamasd.root", ".")).resolve(PIPELINE);
        Assumptions.assumeTrue(Files.isDirectory(dir), "no tiny pipeline at " + dir);
        long seconds = Long.getLong("stress.seconds", 180);
        long baselineHandles = MemoryStats.liveTensorCount();
        long baselineBytes = MemoryStats.now().allocatedBytes();

        CLIPTokenizer tokenizer = CLIPTokenizer.load(dir.resolve("tokenizer"));
        CLIPTextModel text = CLIPTextModel.load(dir.resolve("text_encoder"));
        UNet2DConditionModel unet = UNet2DConditionModel.load(dir.resolve("unet"));
        AutoencoderKL vae = AutoencoderKL.load(dir.resolve("vae"));
        DiffusersConfig schedulerConfig = DiffusersConfig.read(dir.resolve("scheduler/scheduler_config.json"));

        AtomicLong completed = new AtomicLong(), cancelled = new AtomicLong(), refusedAfterClose = new AtomicLong();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        List<Thread> workers = new ArrayList<>();
        String[] schedulers = {"EulerDiscreteScheduler", "DDIMScheduler", "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler"};
        for (int w = 0; w < 4; w++) {
            int index = w;
            workers.add(Thread.ofPlatform().name("request-" + w).start(() -> {
                Scheduler scheduler = StableDiffusionPipeline.scheduler(schedulerConfig, schedulers[index]);
                var pipeline = new StableDiffusionPipeline(tokenizer, 77, text, unet, vae, scheduler);
                SplittableRandom random = new SplittableRandom(index);
                try {
                    while (true) {
                        int cancelAt = random.nextInt(6);  // 0..2: cancel at that step; otherwise run to the end
                        DenoisingListener listener = (step, t, in, out, guided, latents) -> {
                            if (step == cancelAt) throw new CancellationException("request cancelled at step " + step);
                        };
                        try (Scope request = Scope.open(); Generator generator = new Generator(random.nextLong())) {
                            var req = GenerationRequest.of("a photo of an astronaut " + random.nextInt(100), 3, random.nextBoolean() ? 7.5 : 0, 32, 32, 0);
                            pipeline.generate(req, generator, NoiseSource.of(generator), listener).image().sum().item();
                            completed.incrementAndGet();
                        } catch (CancellationException e) {
                            cancelled.incrementAndGet();
                        }
                    }
                } catch (IllegalStateException closed) {
                    // the service closed the shared weights under this request: refused, as the contract says
                    if (System.nanoTime() < deadline) failures.add(closed);
                    else refusedAfterClose.incrementAndGet();
                } catch (Throwable t) {
                    failures.add(t);
                } finally {
                    scheduler.close();
                }
            }));
        }
        while (System.nanoTime() < deadline && failures.isEmpty()) Thread.sleep(200);
        // the service shuts down while requests run: the weights go, the requests end with an exception
        text.close();
        unet.close();
        vae.close();
        for (Thread t : workers) t.join();
        if (!failures.isEmpty()) throw new AssertionError(failures.size() + " worker failure(s)", failures.peek());
        assertTrue(completed.get() > 0 && cancelled.get() > 0, "completed " + completed + ", cancelled " + cancelled);
        assertEquals(4, refusedAfterClose.get(), "every request running at shutdown was refused");
        assertEquals(baselineHandles, MemoryStats.liveTensorCount(), "no live handle");
        assertEquals(baselineBytes, MemoryStats.now().allocatedBytes(), "no allocator byte above the baseline");
        System.out.println("stress: " + completed + " requests completed, " + cancelled + " cancelled in " + seconds + " s; at the end "
                + MemoryStats.liveTensorCount() + " live handles (baseline " + baselineHandles + "), " + MemoryStats.now().allocatedBytes()
                + " allocator bytes (baseline " + baselineBytes + "), peak " + MemoryStats.now().peakBytes() + " bytes");
    }
}
