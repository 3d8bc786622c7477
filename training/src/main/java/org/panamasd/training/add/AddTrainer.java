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
import org.panamasd.training.TrainedParameters;

/**
 * Adversarial diffusion distillation (Sauer et al. 2023; design notes, SDXL Turbo): a student denoiser,
 * initialised from the teacher, learns to produce x_0 in one step from x_s at a few student timesteps s.
 * Per iteration:
 * <ol>
 * <li>the student predicts x̂ from x_s = a_s x_0 + s_s eps (x_0 real latents);
 * <li>generator loss: -mean of the discriminator's logits on the frozen feature network's features of the
 *     augmented, decoded x̂ (the gradient flows through the feature network and the decoder into the student);
 * <li>distillation: c(t) |x̂ - x̂_teacher(sg(x̂) re-noised to t)|^2 with t uniform, the teacher optionally
 *     guided (CFG), or NFSD's noise-free target ({@link NoiseFreeScoreDistillation}); optionally DMD's
 *     regression of the student's one-step samples on the teacher's ({@link RegressionPairs}) — total student
 *     loss L_G + lambda L_distill + w L_regression; Adam step; EMA of the student;
 * <li>discriminator ({@link DiscriminatorTrainer}): hinge on real and (detached) generated images, R1 on the
 *     real images' features; Adam (beta1 = 0); k steps per student step, and alone for a warm-up first.
 * </ol>
 * The teacher, the decoder and the feature network are frozen: only the student and the heads train.
 */
public final class AddTrainer implements AutoCloseable {

    /** A denoiser's x_0 prediction at (x_t, t) with a text context (B, S, d). */
    @FunctionalInterface
    public interface Denoiser {
        Tensor predictX0(Tensor noisy, long[] timesteps, Tensor context);

        /**
         * x_0 with classifier-free guidance g over the empty prompt's context, in one call of batch 2B; with
         * g <= 1 or no unconditional context, the conditional prediction alone (g = 1 is no guidance).
         */
        static Tensor guided(Denoiser denoiser, Tensor noisy, long[] timesteps, Tensor context, Tensor unconditional, double guidance) {
            if (guidance <= 1 || unconditional == null) return denoiser.predictX0(noisy, timesteps, context);
            Tensor[] halves = denoiser.predictX0(Tensor.cat(0, noisy, noisy), concat(timesteps, timesteps),
                    Tensor.cat(0, unconditional, context)).chunk(2, 0);
            return ClassifierFreeGuidance.combine(halves[0], halves[1], guidance);
        }
    }

    /**
     * One batch: x_0 latents, the real images the discriminator sees (B, 3, H, W), the UNet context of the
     * captions and of the empty prompt (for the teacher's guidance; null without), and the discriminator's
     * condition vector (B, c).
     */
    public record Batch(Tensor latents, Tensor realImages, Tensor context, Tensor unconditionalContext, Tensor condition) {}

    /**
     * One iteration's losses: the student's terms (NaN while the discriminator warms up and the student waits;
     * the regression NaN also without pairs), and the last discriminator step's hinge halves, R1 and its judgement
     * of its training batch.
     */
    public record Losses(double generator, double distillation, double regression, double discriminatorReal, double discriminatorFake, double r1,
                         DiscriminatorTrainer.Judgement discriminatorBatch) {
        public boolean studentTrained() {
            return !Double.isNaN(generator);
        }
    }

    private final AddConfig config;
    private final Denoiser student, teacher;
    private final TrainedParameters studentParameters;
    private final Function<Tensor, Tensor> decode;
    private final DiscriminatorTrainer discriminator;
    private final NoiseSchedule schedule;
    private final Optimizer studentOptimizer;
    private final Ema studentEma;
    private long iteration;
    private final Map<String, Long> partNanos = new java.util.LinkedHashMap<>();
    private long mark;

    /**
     * @param studentParameters what the student trains (its weights, or a LoRA on them), by key (also averaged by the EMA)
     * @param decode            latents -> images in [-1, 1] (the frozen VAE decoder; identity in pixel space)
     * @param discriminator     the heads on the frozen feature network, with their optimiser
     */
    public AddTrainer(AddConfig config, Denoiser student, TrainedParameters studentParameters, Denoiser teacher,
                      Function<Tensor, Tensor> decode, DiscriminatorTrainer discriminator, NoiseSchedule schedule) {
        this.config = config;
        this.student = student;
        this.teacher = teacher;
        this.decode = decode;
        this.discriminator = discriminator;
        this.schedule = schedule;
        this.studentParameters = studentParameters;
        this.studentOptimizer = Optimizer.adamW(List.copyOf(studentParameters.parameters().values()), config.studentLearningRate(), 0.0, 0.99, 1e-8, 0, false);
        this.studentEma = new Ema(studentParameters.parameters(), config.emaDecay());
    }

    /**
     * One iteration: during the first {@link AddConfig#discriminatorWarmup()} iterations the student only draws
     * (no graph) and the heads learn; after that the student takes one step, then the heads take
     * {@link AddConfig#discriminatorSteps()} steps on the same real and generated images (fresh augmentations).
     */
    public Losses step(Batch batch, Generator generator) {
        return step(batch, null, generator);
    }

    /**
     * The same, and with pairs and a regression weight above 0, the student's one-step samples from the pairs'
     * noises regress on the teacher's: w |x̂(z) - x_teacher(z)|^2 joins the student's loss.
     */
    public Losses step(Batch batch, RegressionPairs.Batch pairs, Generator generator) {
        iteration++;
        boolean warmingUp = iteration <= config.discriminatorWarmup();
        mark = System.nanoTime();
        try (Scope scope = Scope.open()) {
            studentParameters.beforeForward();
            Tensor real = batch.latents();
            long[] s = config.drawStudentTimesteps((int) real.size(0), generator);
            Tensor noisy = schedule.addNoise(real, real.randnLike(generator), s);
            double generatorLoss = Double.NaN, distillationLoss = Double.NaN, regressionLoss = Double.NaN;
            Tensor fakeImages;
            if (warmingUp) {
                try (var frozen = Autograd.noGrad()) {
                    fakeImages = decode.apply(student.predictX0(noisy, s, batch.context()));
                }
                lap("student forward + decoder (warm-up, no graph)");
            } else {
                Tensor fake = student.predictX0(noisy, s, batch.context());
                lap("student forward");
                // the student: adversarial term through decoder and feature network, plus distillation
                fakeImages = decode.apply(fake);
                Tensor adversarial = AdversarialLosses.generatorHinge(discriminator.generatorLogits(fakeImages, batch.realImages(), batch.condition(), generator));
                lap("decoder + feature network + heads forward (student sample)");
                Tensor distillation = distillation(fake, batch, generator);
                lap("teacher forward (distillation target)");
                Tensor studentLoss = adversarial.add(distillation.mul(config.lambda()));
                if (pairs != null && config.regressionWeight() > 0) {
                    Tensor regression = regression(pairs);
                    studentLoss = studentLoss.add(regression.mul(config.regressionWeight()));
                    regressionLoss = regression.item();
                    lap("student forward (regression pairs)");
                }
                studentOptimizer.zeroGrad();
                studentLoss.backward();
                studentParameters.afterBackward();
                studentOptimizer.step();
                studentEma.update(studentSteps());
                lap("student backward (through heads, feature network, decoder) + Adam + EMA");
                generatorLoss = adversarial.item();
                distillationLoss = distillation.item();
            }
            // the discriminator: hinge on real / generated images, R1 on the real features
            DiscriminatorTrainer.Losses d = null;
            for (int k = 0; k < config.discriminatorSteps(); k++)
                d = discriminator.step(batch.realImages(), fakeImages, batch.condition(), generator);
            lap("feature network (real + generated) + heads + R1 + backward + Adam");
            return new Losses(generatorLoss, distillationLoss, regressionLoss, d.realHinge(), d.fakeHinge(), d.r1(), d.batch());
        }
    }

    /** The student's optimiser steps so far: iterations after the discriminator's warm-up (the EMA's warm-up counts these). */
    public long studentSteps() {
        return Math.max(0, iteration - config.discriminatorWarmup());
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

    /** Mean squared distance of the student's one-step samples from the pairs' noises to the teacher's samples. */
    private Tensor regression(RegressionPairs.Batch pairs) {
        long[] t = new long[(int) pairs.noise().size(0)];
        java.util.Arrays.fill(t, pairs.timestep());
        return student.predictX0(pairs.noise(), t, pairs.context()).sub(pairs.target()).pow(2).mean();
    }

    private Tensor distillation(Tensor fake, Batch batch, Generator generator) {
        int b = (int) fake.size(0);
        long[] t = Tensor.randint(0, schedule.trainTimesteps(), generator, b).toLongArray();
        Tensor target;
        try (var frozen = Autograd.noGrad()) {
            Tensor renoised = schedule.addNoise(fake.detach(), fake.randnLike(generator), t);
            if (config.weighting() == DistillationWeighting.NFSD) {
                if (batch.unconditionalContext() == null)
                    throw new IllegalArgumentException("the nfsd distillation target needs the empty prompt's context (the teacher's unconditional prediction)");
                Tensor[] halves = teacher.predictX0(Tensor.cat(0, renoised, renoised), concat(t, t),
                        Tensor.cat(0, batch.unconditionalContext(), batch.context())).chunk(2, 0);
                target = NoiseFreeScoreDistillation.target(fake, renoised, t, halves[0], halves[1], config.teacherGuidance(), schedule);
            } else {
                target = Denoiser.guided(teacher, renoised, t, batch.context(), batch.unconditionalContext(), config.teacherGuidance());
            }
        }
        double[] c = new double[b];
        for (int i = 0; i < b; i++) c[i] = config.weighting().weight(schedule.alphaCumprod((int) t[i]));
        return AdversarialLosses.distillation(fake, target, Tensor.of(c, b).to(fake.dtype()));
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

    /** Sets the iterations done (resuming from a checkpoint). */
    public void setStepCount(long iterations) {
        this.iteration = iterations;
    }

    @Override
    public void close() {
        studentEma.close();
        studentOptimizer.close();
    }
}
