package org.panamasd.service;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.ImageFiles;
import org.panamasd.io.ImageGrid;
import org.panamasd.models.controlnet.ControlNetModel;
import org.panamasd.pipelines.ControlNetConditioning;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.GenerationResult;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;

/**
 * One worker: a platform thread (libtorch's inference mode is per OS thread) that takes batches from the queue
 * and runs each as one {@link StableDiffusionPipeline#generateRows} call. The models are shared with the other
 * workers; the schedulers are this worker's own, since a scheduler holds the state of the run in progress.
 * Every batch computes in a stack scope of this thread, closed before the next batch; PNGs are encoded by the
 * service's encoder threads.
 */
final class GenerationWorker implements Runnable {
    private static final System.Logger LOG = System.getLogger(GenerationWorker.class.getName());

    private final StableDiffusionPipeline pipeline;
    private final ServiceAdapters adapters;
    private final ControlNetModel controlnet;  // null without serve --controlnet
    private final DiffusersConfig schedulerConfig;
    private final GenerationQueue queue;
    private final ServiceSettings settings;
    private final ServiceMetrics metrics;
    private final int upscale;
    private final Executor encoders;
    private final Map<String, Scheduler> schedulers = new HashMap<>();

    /**
     * Test-only fault point: runs on the worker before each batch's model call (null: nothing). The service's
     * tests make it throw an {@link Error} or hold the worker inside a batch.
     */
    static volatile java.util.function.Consumer<List<Job>> faultBeforeBatch;

    GenerationWorker(StableDiffusionPipeline pipeline, ServiceAdapters adapters, ControlNetModel controlnet, DiffusersConfig schedulerConfig,
                     GenerationQueue queue, ServiceSettings settings, ServiceMetrics metrics, int upscale, Executor encoders) {
        this.pipeline = pipeline;
        this.controlnet = controlnet;
        this.adapters = adapters;
        this.schedulerConfig = schedulerConfig;
        this.queue = queue;
        this.settings = settings;
        this.metrics = metrics;
        this.upscale = upscale;
        this.encoders = encoders;
    }

    @Override
    public void run() {
        try {
            for (List<Job> batch; (batch = queue.nextBatch(settings.maxBatch(), settings.maxWait())) != null; ) {
                run(batch);
                // between requests, not inside one: while jobs wait, the next batch reuses the pool's blocks
                // (a warm step faults no pages in); when none does, the service gives them back
                if (queue.depth() == 0) Torch.trimHeap();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            schedulers.values().forEach(Scheduler::close);
        }
    }

    private void run(List<Job> batch) {
        List<Job> jobs = batch.stream().filter(job -> job.wanted() && job.start()).toList();
        if (jobs.isEmpty()) return;
        metrics.batchSizes.observe(jobs.size());
        try {
            BufferedImage[] pictures = generate(jobs);
            // PNG encoding needs no tensor: the encoders do it while this worker runs the next batch, and announce
            // "done" only then, with the batch's tensors and generators already freed (what a client that sees
            // "done", or a test that then counts native memory, may rely on)
            for (int i = 0; i < jobs.size(); i++) {
                Job job = jobs.get(i);
                BufferedImage picture = pictures[i];
                if (picture != null) encoders.execute(() -> encode(job, picture));
            }
        } catch (BatchProgress.Abandoned e) {
            // every job already has its final state (cancelled or expired)
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "a batch of " + jobs.size() + " failed", e);
            for (Job job : jobs) job.fail(e.getMessage() == null ? e.toString() : e.getMessage());
        } catch (Error e) {
            // the batch's jobs fail with it; the worker itself ends, and the service starts a fresh one, since an
            // Error (out of memory, a stack overflow) may have left this one's state half-changed
            for (Job job : jobs) job.fail("internal error: " + e);
            throw e;
        }
    }

    private static void encode(Job job, BufferedImage picture) {
        try {
            job.complete(ImageFiles.pngBytes(picture));
        } catch (RuntimeException e) {
            job.fail("the PNG could not be encoded: " + e.getMessage());
        }
    }

    /** The batch as one UNet batch; the picture of each job still wanted at the end, null for the others. */
    private BufferedImage[] generate(List<Job> jobs) {
        var fault = faultBeforeBatch;
        if (fault != null) fault.accept(jobs);
        // a model file written over in place would feed the batch changed weights, or crash it with SIGBUS
        List<String> changed = org.panamasd.io.MappedFile.changedInPlace();
        if (!changed.isEmpty())
            throw new IllegalStateException("the model's files changed on disk while mapped: " + String.join(", ", changed)
                    + "; restart the service (replace model files by renaming a new file into place, never by writing over one)");
        GenerationParameters shared = jobs.getFirst().parameters();
        List<Generator> generators = new ArrayList<>();
        try (AutoCloseable weights = holdAdapters(shared); Scope scope = Scope.open()) {
            List<StableDiffusionPipeline.BatchRow> rows = new ArrayList<>();
            for (Job job : jobs) {
                Generator generator = new Generator(job.parameters().seed());
                generators.add(generator);
                rows.add(new StableDiffusionPipeline.BatchRow(job.parameters().prompt(), job.parameters().negativePrompt(), generator));
            }
            // the batch's shared settings; prompt, negative prompt and seed come from the rows
            GenerationRequest settings = new GenerationRequest("", null, shared.steps(), shared.guidance(), 0, shared.height(), shared.width(), 0, null);
            BatchProgress progress = new BatchProgress(jobs, metrics.stepSeconds);
            GenerationResult result = shared.inpaint() != null ? inpaint(shared, generators.getFirst(), progress)
                    : pipeline.generateRows(rows, settings, scheduler(shared.scheduler()), progress, control(shared.control()));
            BufferedImage[] pictures = new BufferedImage[jobs.size()];
            for (int i = 0; i < jobs.size(); i++)  // enlarged as the model directory asks
                if (jobs.get(i).wanted()) pictures[i] = ImageFiles.picture(ImageGrid.enlarge(result.image().narrow(0, i, 1), upscale));
            return pictures;
        } catch (Exception e) {
            if (e instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e);
        } finally {
            generators.forEach(Generator::close);
        }
    }

    /** A ControlNet job's conditioning (it runs alone), its image a tensor in the batch's scope; null for none. */
    private ControlNetConditioning control(ControlInput in) {
        if (in == null) return null;
        return new ControlNetConditioning(controlnet, Tensor.of(in.image(), 1, 3, in.height(), in.width()), in.scale());
    }

    /** An inpainting job (it runs alone): its arrays become tensors here, in the batch's scope. */
    private GenerationResult inpaint(GenerationParameters p, Generator generator, BatchProgress progress) {
        InpaintInput in = p.inpaint();
        Tensor image = Tensor.of(in.image(), 1, 3, in.height(), in.width()), mask = Tensor.of(in.mask(), 1, 1, in.height(), in.width());
        GenerationRequest request = new GenerationRequest(p.prompt(), p.negativePrompt(), p.steps(), p.guidance(), 0, p.height(), p.width(), p.seed(), null);
        NoiseSource noise = NoiseSource.of(generator);
        return pipeline.inpaint(request, image, mask, in.strength(), noise, noise, progress, scheduler(p.scheduler()));
    }

    /** The batch's LoRA set fused for as long as the batch runs (batches are formed per set). */
    private AutoCloseable holdAdapters(GenerationParameters shared) {
        try {
            return adapters.hold(shared.loras());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the model's adapters", e);
        }
    }

    private Scheduler scheduler(String className) {
        return schedulers.computeIfAbsent(className == null ? "" : className,
                name -> StableDiffusionPipeline.scheduler(schedulerConfig, name.isEmpty() ? null : name));
    }
}
