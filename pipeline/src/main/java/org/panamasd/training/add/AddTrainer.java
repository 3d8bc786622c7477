package org.panamasd.training.add;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.optim.Optimizer;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.training.Ema;

/**
 * Adversarial diffusion distillation (Sauer et al. 2023; design notes, SDXL Turbo): a student denoiser,
 * initialised from the teacher, learns to produce x_0 in one step from x_s at a few student timesteps s.
 * Per iteration:
 * <ol>
 * <li>the student predicts x̂ from x_s = a_s x_0 + s_s eps (x_0 real latents);
 * <li>generator loss: -mean of the discriminator's logits on the frozen feature network's features of the
 *     augmented, decoded x̂ (the gradient flows through the feature network and the decoder into the student);
 * <li>distillation: c(t) |x̂ - x̂_teacher(sg(x̂) re-noised to t)|^2 with t uniform, the teacher optionally
 *     guided (CFG) — total student loss L_G + lambda L_distill; Adam step; EMA of the student;
 * <li>discriminator: hinge on real and (detached) generated images, R1 on the real images' features (computed
 *     once per step and reused for the penalty); Adam (beta1 = 0) step.
 * </ol>
 * The teacher, the decoder and the feature network are frozen: only the student and the heads train.
 */
public final class AddTrainer implements AutoCloseable {

    /** A denoiser's x_0 prediction at (x_t, t) with a text context (B, S, d). */
    @FunctionalInterface
    public interface Denoiser {
        Tensor predictX0(Tensor noisy, long[] timesteps, Tensor context);
    }

    /**
     * One batch: x_0 latents, the real images the discriminator sees (B, 3, H, W), the UNet context of the
     * captions and of the empty prompt (for the teacher's guidance; null without), and the discriminator's
     * condition vector (B, c).
     */
    public record Batch(Tensor latents, Tensor realImages, Tensor context, Tensor unconditionalContext, Tensor condition) {}

    public record Losses(double generator, double distillation, double discriminatorReal, double discriminatorFake, double r1) {}

    private final AddConfig config;
    private final Denoiser student, teacher;
    private final Function<Tensor, Tensor> decode;
    private final Function<Tensor, List<Tensor>> features;
    private final ProjectedDiscriminator discriminator;
    private final NoiseSchedule schedule;
    private final Optimizer studentOptimizer, discriminatorOptimizer;
    private final Ema studentEma;
    private long step;
    private final Map<String, Long> partNanos = new java.util.LinkedHashMap<>();
    private long mark;

    /**
     * @param studentParameters the student's trainable parameters by key (also averaged by the EMA)
     * @param decode            latents -> images in [-1, 1] (the frozen VAE decoder; identity in pixel space)
     * @param features          images -> the frozen feature network's hidden states
     */
    public AddTrainer(AddConfig config, Denoiser student, Map<String, Tensor> studentParameters, Denoiser teacher,
                      Function<Tensor, Tensor> decode, Function<Tensor, List<Tensor>> features, ProjectedDiscriminator discriminator,
                      NoiseSchedule schedule) {
        this.config = config;
        this.student = student;
        this.teacher = teacher;
        this.decode = decode;
        this.features = features;
        this.discriminator = discriminator;
        this.schedule = schedule;
        this.studentOptimizer = Optimizer.adamW(List.copyOf(studentParameters.values()), config.studentLearningRate(), 0.0, 0.99, 1e-8, 0, false);
        this.discriminatorOptimizer = Optimizer.adamW(discriminator.parameters(), config.discriminatorLearningRate(), 0.0, 0.99, 1e-8, 0, false);
        this.studentEma = new Ema(studentParameters, config.emaDecay());
    }

    public Losses step(Batch batch, Generator generator) {
        step++;
        mark = System.nanoTime();
        try (Scope iteration = Scope.open()) {
            Tensor real = batch.latents();
            int b = (int) real.size(0);
            long[] s = new long[b];
            long[] pick = Tensor.randint(0, config.studentTimesteps().length, generator, b).toLongArray();
            for (int i = 0; i < b; i++) s[i] = config.studentTimesteps()[(int) pick[i]];
            Tensor fake = student.predictX0(schedule.addNoise(real, real.randnLike(generator), s), s, batch.context());
            lap("student forward");

            // 1. the student: adversarial term through decoder and feature network, plus distillation
            Tensor fakeImages = decode.apply(fake);
            Tensor fakeLogits = discriminator.logits(discriminator.select(features.apply(augment(fakeImages, generator))), batch.condition(), false);
            Tensor generatorLoss = AdversarialLosses.generatorHinge(fakeLogits);
            lap("decoder + feature network + heads forward (student sample)");
            Tensor distillation = distillation(fake, batch, generator);
            lap("teacher forward (distillation target)");
            Tensor studentLoss = generatorLoss.add(distillation.mul(config.lambda()));
            studentOptimizer.zeroGrad();
            studentLoss.backward();
            studentOptimizer.step();
            studentEma.update(step);
            lap("student backward (through heads, feature network, decoder) + Adam + EMA");

            // 2. the discriminator: hinge on real / generated images, R1 on the real features (computed once)
            List<Tensor> realFeatures, fakeFeatures;
            try (var frozen = Autograd.noGrad()) {
                realFeatures = discriminator.select(features.apply(augment(batch.realImages(), generator)));
                fakeFeatures = discriminator.select(features.apply(augment(fakeImages.detach(), generator)));
            }
            lap("feature network forward (real + generated, discriminator step)");
            List<Tensor> realInputs = new java.util.ArrayList<>();
            for (Tensor f : realFeatures) realInputs.add(f.requiresGrad(true));
            Tensor realLogits = discriminator.logits(realInputs, batch.condition(), true);
            Tensor fakeLogitsD = discriminator.logits(fakeFeatures, batch.condition(), true);
            Tensor realHinge = AdversarialLosses.realHinge(realLogits), fakeHinge = AdversarialLosses.fakeHinge(fakeLogitsD);
            Tensor r1 = AdversarialLosses.r1Penalty(realLogits.mean(new long[] {1}, false), realInputs, config.gamma());
            discriminatorOptimizer.zeroGrad();
            realHinge.add(fakeHinge).add(r1).backward();
            discriminatorOptimizer.step();
            lap("heads forward + R1 (gradient of gradient) + backward + Adam");
            return new Losses(generatorLoss.item(), distillation.item(), realHinge.item(), fakeHinge.item(), r1.item());
        }
    }

    private void lap(String part) {
        long now = System.nanoTime();
        partNanos.merge(part, now - mark, Long::sum);
        mark = now;
    }

    /** Wall time per part of the iteration, summed over the steps so far (for the ADD benchmark). */
    public Map<String, Long> partNanos() {
        return java.util.Collections.unmodifiableMap(partNanos);
    }

    /** Forgets the timings (after warm-up). */
    public void resetTimings() {
        partNanos.clear();
    }

    private Tensor distillation(Tensor fake, Batch batch, Generator generator) {
        int b = (int) fake.size(0);
        long[] t = Tensor.randint(0, schedule.trainTimesteps(), generator, b).toLongArray();
        Tensor target;
        try (var frozen = Autograd.noGrad()) {
            Tensor renoised = schedule.addNoise(fake.detach(), fake.randnLike(generator), t);
            if (config.teacherGuidance() > 1 && batch.unconditionalContext() != null) {
                Tensor both = teacher.predictX0(Tensor.cat(0, renoised, renoised), concat(t, t),
                        Tensor.cat(0, batch.unconditionalContext(), batch.context()));
                Tensor[] halves = both.chunk(2, 0);
                target = ClassifierFreeGuidance.combine(halves[0], halves[1], config.teacherGuidance());
            } else {
                target = teacher.predictX0(renoised, t, batch.context());
            }
        }
        double[] c = new double[b];
        for (int i = 0; i < b; i++) c[i] = config.weighting().weight(schedule.alphaCumprod((int) t[i]));
        return AdversarialLosses.distillation(fake, target, Tensor.of(c, b).to(fake.dtype()));
    }

    private Tensor augment(Tensor images, Generator generator) {
        return config.augment() ? DiffAugment.apply(images, generator) : images;
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** The student's EMA weights by key. */
    public Map<String, Tensor> studentEma() {
        return studentEma.shadow();
    }

    public Optimizer studentOptimizer() {
        return studentOptimizer;
    }

    public Optimizer discriminatorOptimizer() {
        return discriminatorOptimizer;
    }

    public void setStepCount(long step) {
        this.step = step;
    }

    @Override
    public void close() {
        studentEma.close();
        studentOptimizer.close();
        discriminatorOptimizer.close();
    }
}
