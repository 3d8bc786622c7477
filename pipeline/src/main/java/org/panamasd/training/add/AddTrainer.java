package org.panamasd.training.add;

import java.util.List;
import java.util.function.Function;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.optim.Optimizer;
import org.panamasd.schedulers.NoiseSchedule;

/**
 * Adversarial diffusion distillation (Sauer et al. 2023; design notes, SDXL Turbo): a student denoiser,
 * initialised from the teacher, learns to produce x_0 in one step from x_s at a few student timesteps.
 * Per iteration: the student's x_0 prediction is scored by discriminator heads on a frozen feature network
 * (generator hinge loss) and pulled towards the frozen teacher's prediction from the re-noised student sample
 * (distillation, weight lambda, c(t) = alpha-bar_t); then the discriminator takes a hinge step on real and
 * student samples with the R1 penalty on the real ones.
 */
public final class AddTrainer implements AutoCloseable {

    /** A denoiser's x_0 prediction at (x_t, t) for the batch, with its class context. */
    @FunctionalInterface
    public interface Denoiser {
        Tensor predictX0(Tensor noisy, Tensor timesteps);
    }

    /** The losses of one iteration. */
    public record Losses(double generator, double distillation, double discriminator, double r1) {}

    private final Denoiser student, teacher;
    private final Function<Tensor, List<Tensor>> features;
    private final DiscriminatorHeads discriminator;
    private final NoiseSchedule schedule;
    private final long[] studentTimesteps;
    private final Optimizer studentOptimizer, discriminatorOptimizer;
    private final double lambda, gamma;

    /**
     * @param features         the frozen feature network: image -> its hidden states (the heads read some of them)
     * @param studentTimesteps the few timesteps the student is trained at (e.g. 999, 749, 499, 249)
     * @param lambda           the distillation weight (2.5 in the paper)
     * @param gamma            the R1 weight
     */
    public AddTrainer(Denoiser student, List<Tensor> studentParameters, Denoiser teacher, Function<Tensor, List<Tensor>> features,
                      DiscriminatorHeads discriminator, NoiseSchedule schedule, long[] studentTimesteps, double learningRate,
                      double lambda, double gamma) {
        this.student = student;
        this.teacher = teacher;
        this.features = features;
        this.discriminator = discriminator;
        this.schedule = schedule;
        this.studentTimesteps = studentTimesteps.clone();
        this.studentOptimizer = Optimizer.adamW(studentParameters, learningRate, 0.0, 0.99, 1e-8, 0, false);
        this.discriminatorOptimizer = Optimizer.adamW(discriminator.parameters(), learningRate, 0.0, 0.99, 1e-8, 0, false);
        this.lambda = lambda;
        this.gamma = gamma;
    }

    /** One student step and one discriminator step on a batch of real images x_0 (B, C, H, W). */
    public Losses step(Tensor real, Generator generator) {
        try (Scope iteration = Scope.open()) {
            long batch = real.size(0);
            // the student's one-step sample from x_s at a random student timestep
            long[] s = new long[(int) batch];
            long[] pick = Tensor.randint(0, studentTimesteps.length, generator, batch).toLongArray();
            for (int b = 0; b < batch; b++) s[b] = studentTimesteps[(int) pick[b]];
            Tensor noisy = schedule.addNoise(real, real.randnLike(generator), s);
            Tensor fake = student.predictX0(noisy, Tensor.of(s, batch));

            // distillation target: the teacher's x_0 from the re-noised (stop-gradient) student sample at t ~ U[0, T)
            long[] t = Tensor.randint(0, schedule.trainTimesteps(), generator, batch).toLongArray();
            Tensor target;
            try (var frozen = Autograd.noGrad()) {
                Tensor renoised = schedule.addNoise(fake.detach(), real.randnLike(generator), t);
                target = teacher.predictX0(renoised, Tensor.of(t, batch));
            }
            double[] c = new double[(int) batch];
            for (int b = 0; b < batch; b++) c[b] = schedule.alphaCumprod((int) t[b]);
            Tensor distillation = AdversarialLosses.distillation(fake, target, Tensor.of(c, batch).to(fake.dtype()));
            Tensor generatorLoss = AdversarialLosses.generatorHinge(discriminator.logits(features.apply(fake)));
            Tensor studentLoss = generatorLoss.add(distillation.mul(lambda));
            studentOptimizer.zeroGrad();
            discriminatorOptimizer.zeroGrad();
            studentLoss.backward();
            studentOptimizer.step();

            // the discriminator: hinge on real and (detached) student samples, R1 on the real ones
            discriminatorOptimizer.zeroGrad();
            Tensor fakeDetached = fake.detach();
            Tensor hinge = AdversarialLosses.discriminatorHinge(discriminator.logits(features.apply(real)),
                    discriminator.logits(features.apply(fakeDetached)));
            Tensor r1 = AdversarialLosses.r1Penalty(x -> discriminator.logits(features.apply(x)), real, gamma);
            hinge.add(r1).backward();
            discriminatorOptimizer.step();
            return new Losses(generatorLoss.item(), distillation.item(), hinge.item(), r1.item());
        }
    }

    @Override
    public void close() {
        studentOptimizer.close();
        discriminatorOptimizer.close();
    }
}
