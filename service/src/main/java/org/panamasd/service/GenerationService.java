package org.panamasd.service;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.models.controlnet.ControlNetModel;
import org.panamasd.pipelines.StableDiffusionPipeline;

/**
 * The service without HTTP: one loaded model (its weights in detached scopes, shared by the workers), the
 * bounded batching queue, the worker threads, the jobs and the metrics. A worker that ends on an {@link Error}
 * is replaced by a fresh one. Closing it cancels what waits and what runs (a running batch stops at its next
 * step), waits a bounded time for the workers and frees the model once none is left inside it.
 */
public final class GenerationService implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(GenerationService.class.getName());
    /** How long {@link #close()} waits for the workers to leave their batches. */
    static final Duration STOP_WAIT = Duration.ofSeconds(30);

    private final ServiceSettings settings;
    private final StableDiffusionPipeline pipeline;
    private final GenerationDefaults defaults;
    private final RequestParser parser;
    private final ServiceAdapters adapters;
    private final ControlNetModel controlnet;
    private final GenerationQueue queue;
    private final ServiceMetrics metrics;
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final ConcurrentLinkedDeque<Job> finished = new ConcurrentLinkedDeque<>();  // newest first
    private final List<Thread> workers = new ArrayList<>();
    private final AtomicInteger liveWorkers = new AtomicInteger();
    private final AtomicLong workerRestarts = new AtomicLong();
    private final DiffusersConfig schedulerConfig;
    private volatile boolean closing;
    private boolean pipelineClosed;
    Duration stopWait = STOP_WAIT;  // tests shorten it
    private final ScheduledExecutorService sweeper;
    // PNG encoding is plain Java: done beside the workers, which meanwhile run the next batch
    private final ExecutorService encoders = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors() / 2),
            Thread.ofPlatform().name("panamasd-png-", 0).factory());

    private GenerationService(ServiceSettings settings, StableDiffusionPipeline pipeline) {
        this.settings = settings;
        this.pipeline = pipeline;
        if (settings.model().xl()) throw new IllegalArgumentException(settings.model().path() + ": the service serves SD 1.x / 2.x models; SDXL is not built into it yet");
        this.defaults = GenerationDefaults.of(settings.model().defaultsDirectory(), 30, 7.5, 512);
        this.adapters = new ServiceAdapters(settings.loraDirectory(), pipeline.adaptableWeights());
        try {
            this.controlnet = settings.controlnet() == null ? null : ControlNetModel.load(settings.controlnet(), org.panamasd.Device.CPU, pipeline.dtype());
        } catch (RuntimeException e) {
            adapters.close();
            throw e;
        }
        this.parser = new RequestParser(defaults, settings, pipeline.tokenizer(), pipeline.promptLength(), adapters.names());
        this.queue = new GenerationQueue(settings.queueCapacity());
        this.metrics = new ServiceMetrics(queue::depth, queue::capacity, liveWorkers::get);
        this.schedulerConfig = settings.model().schedulerConfig();
        for (int i = 0; i < settings.workers(); i++) {
            liveWorkers.incrementAndGet();
            workers.add(Thread.ofPlatform().name("panamasd-worker-" + i).start(this::supervise));
        }
        // queued jobs past their deadlines expire even while no worker is free to look at them
        sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("panamasd-deadlines").daemon().factory());
        sweeper.scheduleWithFixedDelay(this::expireOverdue, 250, 250, TimeUnit.MILLISECONDS);
    }

    /**
     * A worker thread's life: runs workers until the queue closes; one that ends on an Error (its batch already
     * failed) is replaced by a fresh one with its own schedulers.
     */
    private void supervise() {
        try {
            while (true) {
                try {
                    new GenerationWorker(pipeline, adapters, controlnet, schedulerConfig, queue, settings, metrics, Math.max(1, defaults.upscale()), encoders).run();
                    return;
                } catch (Throwable e) {
                    workerRestarts.incrementAndGet();
                    LOG.log(System.Logger.Level.ERROR, "a worker ended on " + e + (closing ? "" : "; starting a fresh one"), e);
                    if (closing) return;
                }
            }
        } finally {
            liveWorkers.decrementAndGet();
        }
    }

    /** Worker threads running now (fewer than the settings' workers only while closing, or if one could not be replaced). */
    public int liveWorkers() {
        return liveWorkers.get();
    }

    /** Workers replaced since the start because one ended on an Error. */
    public long workerRestarts() {
        return workerRestarts.get();
    }

    /** Loads the model and starts the workers. */
    public static GenerationService start(ServiceSettings settings) {
        if (!Files.exists(settings.model().path())) throw new IllegalArgumentException("no model directory or file " + settings.model().path());
        StableDiffusionPipeline pipeline = settings.model().load(null, org.panamasd.Device.CPU, settings.dtype(), settings.weights());
        try {
            return new GenerationService(settings, pipeline);
        } catch (RuntimeException e) {
            pipeline.close();
            throw e;
        }
    }

    /** The dtype the loaded models compute in (the settings' dtype, as the weights have it). */
    public org.panamasd.DType dtype() {
        return pipeline.dtype();
    }

    public ServiceSettings settings() {
        return settings;
    }

    public GenerationDefaults defaults() {
        return defaults;
    }

    /** Validates a submitted JSON object; a {@link BadRequest} names the field. */
    public GenerationParameters parse(JsonNode body) {
        try {
            return parser.parse(body);
        } catch (BadRequest e) {
            metrics.count(ServiceMetrics.INVALID);
            throw e;
        }
    }

    /** Queues a job, or throws {@link QueueFull}. */
    public Job submit(GenerationParameters parameters) {
        Job job = new Job(UUID.randomUUID().toString(), parameters);
        job.observe(changed -> {
            if (changed.state().finished()) finished(changed);
        });
        jobs.put(job.id(), job);
        if (!queue.offer(job)) {
            jobs.remove(job.id());
            metrics.count(ServiceMetrics.QUEUE_FULL);
            throw new QueueFull(queue.capacity(), retryAfterSeconds());
        }
        metrics.count(ServiceMetrics.ACCEPTED);
        return job;
    }

    public Optional<Job> job(String id) {
        Job job = jobs.get(id);
        if (job != null) dropIfExpired(job);  // a status read sees an expired deadline at once
        return Optional.ofNullable(job);
    }

    /** Cancels a queued or running job (a running batch drops it, or stops when no job of it is left). */
    public Optional<Job> cancel(String id, String reason) {
        Job job = jobs.get(id);
        if (job == null) return Optional.empty();
        queue.remove(job);
        job.cancel(reason);
        return Optional.of(job);
    }

    /** The latest finished jobs that have an image, newest first. */
    public List<Job> recentImages(int limit) {
        return finished.stream().filter(j -> j.state() == Job.State.DONE).limit(limit).toList();
    }

    public int queueDepth() {
        return queue.depth();
    }

    public String prometheus() {
        return metrics.prometheus();
    }

    /** Jobs that reached each final state since the start. */
    public long finishedCount(Job.State state) {
        return metrics.count(state);
    }

    /**
     * When a slot is likely free: the mean request time so far, times the batches queued ahead per worker
     * (at least 1 s, at most a minute).
     */
    long retryAfterSeconds() {
        ServiceMetrics.Mean requests = ServiceMetrics.mean(metrics.requestSeconds);
        double perRequest = requests.count() == 0 ? 1 : requests.mean();
        double batchesAhead = (double) queue.depth() / (settings.maxBatch() * settings.workers());
        return Math.clamp((long) Math.ceil(perRequest * Math.max(1, batchesAhead)), 1, 60);
    }

    private void finished(Job job) {
        metrics.finished(job);
        finished.addFirst(job);
        while (finished.size() > settings.keptResults()) {
            Job oldest = finished.pollLast();
            if (oldest != null) jobs.remove(oldest.id());
        }
    }

    private void expireOverdue() {
        jobs.values().forEach(this::dropIfExpired);
    }

    /** A queued job past its deadline expires and leaves the queue. */
    private void dropIfExpired(Job job) {
        if (!job.wanted()) queue.remove(job);
    }

    /**
     * Stops: cancels what waits and what runs, waits up to {@link #STOP_WAIT} for the workers (a batch stops at
     * its next step; one step of a huge request can take longer), waits for the last PNGs, and frees the model.
     * A worker still inside the model after the wait keeps it: the model is then not freed (freeing it under a
     * running step would crash the process) and is left to the process exit; closing again retries. Returns
     * whether the model was freed.
     */
    @Override
    public void close() {
        stop();
    }

    boolean stop() {
        closing = true;
        sweeper.shutdownNow();
        for (Job job : queue.close()) job.cancel("the service is stopping");
        for (Job job : jobs.values()) if (job.state() == Job.State.RUNNING) job.cancel("the service is stopping");
        long deadline = System.nanoTime() + stopWait.toNanos();
        boolean interrupted = false;
        for (Thread worker : workers) {
            while (worker.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) break;
                try {
                    worker.join(Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        long running = workers.stream().filter(Thread::isAlive).count();
        encoders.shutdown();
        try {
            if (!encoders.awaitTermination(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS))
                LOG.log(System.Logger.Level.WARNING, "PNG encoding still running after the stop's wait");
        } catch (InterruptedException e) {
            interrupted = true;
        }
        if (interrupted) Thread.currentThread().interrupt();
        synchronized (this) {
            if (running > 0) {
                LOG.log(System.Logger.Level.WARNING, running + " worker(s) still inside a step after " + stopWait.toSeconds()
                        + " s: the model is not freed (the process exit frees it)");
                return false;
            }
            if (!pipelineClosed) {
                pipelineClosed = true;
                adapters.close();
                if (controlnet != null) controlnet.close();
                pipeline.close();
            }
            return true;
        }
    }
}
