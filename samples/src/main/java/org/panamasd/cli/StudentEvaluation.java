package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.evaluation.ClassSamples;
import org.panamasd.evaluation.ConvClassifier;
import org.panamasd.evaluation.SampleMetrics;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.training.MetricLog;

/**
 * The ADD student scored during its run by the evaluator trained apart ({@code train-add --evaluate-every N}):
 * its EMA weights draw {@code perClass} samples per class in one step from the same noise each time, scored as
 * {@code evaluate} scores a row (FID, accuracy, diversity of correctly classified samples, precision, recall,
 * against the 10,000 held-out test images), written to {@code evaluation.tsv} and plotted; the EMA weights with
 * the lowest FID so far are written as {@code model-best} (the checkpoint chosen by the evaluator).
 */
final class StudentEvaluation implements AutoCloseable {
    static final List<String> COLUMNS = List.of("fid", "accuracy", "diversity_correct", "precision", "recall");

    private final Scope scope = Scope.detached();  // the reference's features live as long as the run
    private final ConvClassifier evaluator;
    private final SampleMetrics.Reference real;
    private final StableDiffusionPipeline pipeline;
    private final Scheduler scheduler;
    private final UNet2DConditionModel student;
    private final int perClass;
    private final long seed;
    private final MetricLog log;
    private double bestFid;

    StudentEvaluation(Path evaluatorDir, Path out, long firstStep, CLIPTokenizer tokenizer, CLIPTextModel textEncoder, UNet2DConditionModel student,
                      AutoencoderKL vae, DiffusersConfig studentScheduler, int perClass, long seed) {
        this.evaluator = ConvClassifier.load(evaluatorDir).freeze();
        FashionMnist test = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, false);
        int[] all = java.util.stream.IntStream.range(0, test.size()).toArray();
        try (Scope s = Scope.open()) {
            Tensor images = test.paddedRgb(all).add(1).div(2);
            SampleMetrics.Reference made = SampleMetrics.Reference.of(evaluator, images, test.labels(all).toLongArray(), perClass * 10);
            made.precisionRecallFeatures().moveTo(scope);
            this.real = made;
        }
        this.scheduler = StableDiffusionPipeline.scheduler(studentScheduler, null);
        this.pipeline = new StableDiffusionPipeline(tokenizer, textEncoder.config().maxPositions(), textEncoder, student, vae, scheduler);
        this.student = student;
        this.perClass = perClass;
        this.seed = seed;
        this.log = new MetricLog(out.resolve("evaluation.tsv"), COLUMNS, firstStep);
        this.bestFid = log.values("fid").stream().mapToDouble(Double::doubleValue).min().orElse(Double.POSITIVE_INFINITY);
    }

    /**
     * Scores the EMA weights at {@code step} (swapped into the student for the sampling, then swapped back) and
     * returns whether they are the best so far by FID.
     */
    boolean score(long step, Map<String, Tensor> emaWeights) {
        SampleMetrics m;
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            Map<String, Tensor> trained = student.parameters();
            Map<String, Tensor> kept = new java.util.LinkedHashMap<>();
            trained.forEach((name, t) -> kept.put(name, t.copy()));
            try {
                trained.forEach((name, t) -> t.copyFrom(emaWeights.get(name)));
                Tensor images = ClassSamples.generate(pipeline, perClass, 1, 0.0, 32, seed, 100);
                m = SampleMetrics.of(evaluator, images, ClassSamples.labels(perClass), real);
            } finally {
                trained.forEach((name, t) -> t.copyFrom(kept.get(name)));
            }
        }
        log.add(step, m.fid(), m.accuracy(), m.correctDiversity(), m.precision(), m.recall());
        System.out.printf("step %d, EMA student at 1 step (%d samples, evaluator): FID %.2f, accuracy %.3f, diversity %.2f, precision %.3f, recall %.3f%n",
                step, perClass * 10, m.fid(), m.accuracy(), m.correctDiversity(), m.precision(), m.recall());
        if (m.fid() >= bestFid) return false;
        bestFid = m.fid();
        return true;
    }

    void plot(Path png) {
        log.plot(png, "train-add: the EMA student at 1 step, scored by the evaluator", List.of("accuracy", "diversity_correct", "precision", "recall"));
        log.plot(png.resolveSibling(png.getFileName().toString().replace(".png", "-fid.png")), "train-add: FID of the EMA student at 1 step (evaluator)",
                List.of("fid"));
    }

    static void writeBestStep(Path dir, long step) throws java.io.IOException {
        Files.writeString(dir.resolve("step.txt"), step + "\n");
    }

    @Override
    public void close() {
        scheduler.close();
        evaluator.close();
        scope.close();
    }
}
