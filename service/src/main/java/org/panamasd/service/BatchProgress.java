package org.panamasd.service;

import io.prometheus.metrics.core.metrics.Histogram;
import java.util.List;
import org.panamasd.Tensor;
import org.panamasd.pipelines.DenoisingListener;

/**
 * Reports each denoising step of a batch to its jobs (the step reached, and a latent preview for jobs someone
 * watches), times the steps, and abandons the batch once none of its jobs is wanted any more (all cancelled or
 * past their deadlines): the exception unwinds the pipeline's scopes, so nothing is left allocated.
 */
final class BatchProgress implements DenoisingListener {

    /** Thrown out of the denoising loop when no job of the batch wants its result. */
    static final class Abandoned extends RuntimeException {
        Abandoned() {
            super("every request of the batch was cancelled or expired", null, false, false);
        }
    }

    private final List<Job> jobs;
    private final Histogram stepSeconds;
    private long last = System.nanoTime();

    BatchProgress(List<Job> jobs, Histogram stepSeconds) {
        this.jobs = jobs;
        this.stepSeconds = stepSeconds;
    }

    @Override
    public void onStep(int index, double timestep, Tensor unetInput, Tensor unetOutput, Tensor guided, Tensor latents) {
        long now = System.nanoTime();
        stepSeconds.observe((now - last) / 1e9);  // the first step's time includes encoding the prompts
        last = now;
        boolean anyWanted = false;
        for (int i = 0; i < jobs.size(); i++) {
            Job job = jobs.get(i);
            if (!job.wanted()) continue;
            anyWanted = true;
            // second-order schedulers call the model more often than there are steps: the count stops at the last one
            int done = Math.min(index + 1, job.parameters().steps());
            job.progress(done, job.observed() ? LatentPreview.png(latents.narrow(0, i, 1)) : null);
        }
        if (!anyWanted) throw new Abandoned();
    }
}
