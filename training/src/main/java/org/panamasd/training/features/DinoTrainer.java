package org.panamasd.training.features;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.dinov2.Dinov2Model;
import org.panamasd.nn.RandomWeights;
import org.panamasd.optim.Optimizer;
import org.panamasd.training.Ema;
import org.panamasd.training.LearningRateSchedule;

/**
 * Self-supervised training of a ViT with DINO (Caron et al. 2021): a student backbone and projection head
 * learn, from {@link MultiCrop} views, to match the centred and sharpened output of a teacher that is their own
 * momentum average ({@link DinoLoss}); no labels. The teacher's backbone is what DINO keeps. Unlike a classifier,
 * it is not trained to ignore what does not tell the classes apart (blur, texture, contrast), which is what ADD's
 * discriminator needs to see.
 * <p>Simplifications, stated: weight decay is constant (DINO ramps it 0.04 -> 0.4) and applies to every
 * parameter; the prototypes are not frozen in the first epoch.
 */
public final class DinoTrainer implements AutoCloseable {

    /**
     * DINO's settings: the views, the head (hidden and bottleneck widths, prototypes K), the student's
     * temperature, the teacher's (warmed up linearly from {@code teacherTemperatureStart} over the first
     * {@code teacherWarmupFraction} of the run), the centre's momentum, the teacher's momentum (cosine from
     * {@code momentumStart} to 1), AdamW's weight decay and the gradient-norm clip.
     */
    public record Settings(MultiCrop crops, long headHidden, long bottleneck, long prototypes, double studentTemperature,
                           double teacherTemperatureStart, double teacherTemperature, double teacherWarmupFraction,
                           double centerMomentum, double momentumStart, double weightDecay, double clipNorm) {
        /** DINO's ViT-S recipe with the head made small for a 96-wide ViT on Fashion-MNIST. */
        public static Settings defaults() {
            return new Settings(MultiCrop.defaults(), 256, 64, 1024, 0.1, 0.04, 0.07, 0.3, 0.9, 0.996, 0.04, 3.0);
        }
    }

    /** One step: the loss, and the teacher's mean output entropy (collapse shows as 0 or log K). */
    public record Step(double loss, double teacherEntropy) {}

    private final Dinov2Model student, teacher;
    private final RandomWeights studentHeadWeights, teacherHeadWeights;
    private final DinoHead studentHead, teacherHead;
    private final Map<String, Tensor> studentAll = new LinkedHashMap<>(), teacherAll = new LinkedHashMap<>();
    private final Settings settings;
    private final LearningRateSchedule learningRate;
    private final Optimizer optimizer;
    private final Scope state = Scope.detached();
    private final Tensor center;
    private long step;

    /**
     * @param student a freshly initialised backbone (trained)
     * @param teacher a backbone of the same config: overwritten with the student's weights and frozen
     */
    public DinoTrainer(Dinov2Model student, Dinov2Model teacher, Settings settings, LearningRateSchedule learningRate, long seed) {
        this.student = student;
        this.teacher = teacher.freeze();
        this.settings = settings;
        this.learningRate = learningRate;
        long width = student.config().hiddenSize();
        this.studentHeadWeights = new RandomWeights(seed);
        this.teacherHeadWeights = new RandomWeights(seed);
        this.studentHead = new DinoHead(studentHeadWeights, "head", width, settings.headHidden(), settings.bottleneck(), settings.prototypes());
        this.teacherHead = new DinoHead(teacherHeadWeights, "head", width, settings.headHidden(), settings.bottleneck(), settings.prototypes());
        student.parameters().forEach((k, v) -> studentAll.put("backbone." + k, v));
        studentHeadWeights.parameters().forEach(studentAll::put);
        teacher.parameters().forEach((k, v) -> teacherAll.put("backbone." + k, v));
        teacherHeadWeights.parameters().forEach(teacherAll::put);
        try (var frozen = Autograd.noGrad()) {
            studentAll.forEach((k, v) -> teacherAll.get(k).copyFrom(v));  // the teacher starts as the student
        }
        teacherHeadWeights.parameters().values().forEach(p -> p.requiresGrad(false));
        this.optimizer = Optimizer.adamW(List.copyOf(studentAll.values()), learningRate.at(1), 0.9, 0.999, 1e-8, settings.weightDecay(), false);
        try (Scope s = Scope.open()) {
            this.center = Tensor.zeros(1, settings.prototypes()).moveTo(state);
        }
    }

    /** One step on a batch of images (B, C, H, W) in [-1, 1]. */
    public Step step(Tensor images, Generator generator) {
        step++;
        try (Scope s = Scope.open()) {
            List<Tensor> views = settings.crops().views(images, generator);
            int globals = settings.crops().globalViews();
            List<Tensor> globalViews = views.subList(0, globals), localViews = views.subList(globals, views.size());
            List<Tensor> teacherOut;
            try (var frozen = Autograd.noGrad()) {
                teacherOut = project(teacher, teacherHead, globalViews);
            }
            List<Tensor> studentOut = new ArrayList<>(project(student, studentHead, globalViews));
            if (!localViews.isEmpty()) studentOut.addAll(project(student, studentHead, localViews));
            double temperature = teacherTemperature();
            Tensor loss = DinoLoss.of(teacherOut, studentOut, center, temperature, settings.studentTemperature());
            double entropy = DinoLoss.teacherEntropy(teacherOut, center, temperature);
            optimizer.setLearningRate(learningRate.at(step));
            optimizer.zeroGrad();
            loss.backward();
            Optimizer.clipGradNorm(List.copyOf(studentAll.values()), settings.clipNorm(), 2.0);
            optimizer.step();
            Ema.blend(teacherAll, studentAll, momentum());
            DinoLoss.updateCenter(center, teacherOut, settings.centerMomentum());
            return new Step(loss.item(), entropy);
        }
    }

    /** The views (all of one size), batched together through backbone and head, split back per view. */
    private static List<Tensor> project(Dinov2Model backbone, DinoHead head, List<Tensor> views) {
        long b = views.get(0).size(0);
        Tensor logits = head.forward(backbone.forward(Tensor.cat(0, views.toArray(Tensor[]::new))).pooled());
        List<Tensor> out = new ArrayList<>();
        for (int v = 0; v < views.size(); v++) out.add(logits.narrow(0, v * b, b));
        return out;
    }

    /** The teacher's temperature at the current step: linear warm-up, then constant. */
    double teacherTemperature() {
        double warmup = settings.teacherWarmupFraction() * learningRate.totalSteps();
        if (step >= warmup) return settings.teacherTemperature();
        return settings.teacherTemperatureStart() + (settings.teacherTemperature() - settings.teacherTemperatureStart()) * step / warmup;
    }

    /** The teacher's momentum at the current step: 1 - (1 - m0) (cos(pi k / K) + 1) / 2. */
    double momentum() {
        double progress = Math.min(1.0, (double) step / learningRate.totalSteps());
        return 1 - (1 - settings.momentumStart()) * (Math.cos(Math.PI * progress) + 1) / 2;
    }

    /** The momentum teacher's backbone: the network DINO keeps. */
    public Dinov2Model teacher() {
        return teacher;
    }

    @Override
    public void close() {
        optimizer.close();
        state.close();
        studentHeadWeights.close();
        teacherHeadWeights.close();
    }
}
