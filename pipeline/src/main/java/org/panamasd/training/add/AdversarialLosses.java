package org.panamasd.training.add;

import java.util.List;
import org.panamasd.Autograd;
import org.panamasd.Tensor;

/**
 * The losses of adversarial diffusion distillation (Sauer et al. 2023; design notes, SDXL Turbo section):
 * hinge losses for the discriminator and the student, the R1 gradient penalty on real inputs, and the
 * distillation loss against the teacher's denoised prediction.
 */
public final class AdversarialLosses {

    /** A discriminator: one logit per sample (B,) for an input batch. */
    @FunctionalInterface
    public interface Discriminator {
        Tensor logits(Tensor input);
    }

    /** L_D = E[max(0, 1 - D(real))] + E[max(0, 1 + D(fake))]. */
    public static Tensor discriminatorHinge(Tensor realLogits, Tensor fakeLogits) {
        return realLogits.rsub(1).relu().mean().add(fakeLogits.add(1).relu().mean());
    }

    /** L_adv^G = -E[D(fake)]: the student pushes its samples' logits up. */
    public static Tensor generatorHinge(Tensor fakeLogits) {
        return fakeLogits.mean().neg();
    }

    /**
     * R1 = (gamma / 2) E[|grad_x D(x)|^2] on real inputs (Mescheder et al. 2018). The gradient is taken with
     * create_graph, so the penalty itself back-propagates into the discriminator's parameters.
     */
    public static Tensor r1Penalty(Discriminator discriminator, Tensor real, double gamma) {
        Tensor input = real.detach().requiresGrad(true);
        Tensor logits = discriminator.logits(input);
        Tensor grad = Autograd.grad(List.of(logits.sum()), List.of(input), null, true, true, false)[0];
        long batch = grad.size(0);
        return grad.pow(2).reshape(batch, -1).sum(new long[] {1}, false).mean().mul(gamma / 2);
    }

    /**
     * L_distill = E[c(t) |x_student - sg(x_teacher)|^2], with the teacher's prediction detached (stop
     * gradient) and weights c(t) per sample (B,); the squared distance is averaged over each sample's elements.
     */
    public static Tensor distillation(Tensor student, Tensor teacher, Tensor weights) {
        long batch = student.size(0);
        Tensor perSample = student.sub(teacher.detach()).pow(2).reshape(batch, -1).mean(new long[] {1}, false);
        return perSample.mul(weights).mean();
    }

    private AdversarialLosses() {}
}
