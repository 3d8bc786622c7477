package org.panamasd.service;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/** A job as the JSON API shows it (status reads, progress events, the gallery). */
final class JobView {

    static Map<String, Object> of(Job job) {
        GenerationParameters p = job.parameters();
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", job.id());
        view.put("state", job.state().name().toLowerCase(java.util.Locale.ROOT));
        view.put("step", job.step());
        view.put("steps", p.steps());
        view.put("prompt", p.prompt());
        view.put("negative_prompt", p.negativePrompt());
        view.put("seed", p.seed());
        view.put("guidance", p.guidance());
        view.put("width", p.width());
        view.put("height", p.height());
        view.put("scheduler", p.scheduler());
        view.put("seconds", Math.round(job.seconds() * 1000) / 1000.0);
        if (job.error() != null) view.put("error", job.error());
        if (job.state() == Job.State.DONE) view.put("image", "/api/jobs/" + job.id() + "/image.png");
        byte[] preview = job.preview();
        if (preview != null && !job.state().finished()) view.put("preview", "data:image/png;base64," + Base64.getEncoder().encodeToString(preview));
        return view;
    }

    private JobView() {}
}
