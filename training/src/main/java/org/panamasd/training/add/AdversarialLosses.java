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

    /** L_D = E[max(0, 1 - D(real))] + E[max(0, 1 + D(fake))]. */
    public static Tensor discriminatorHinge(Tensor realLogits, Tensor fakeLogits) {
        return realHinge(realLogits).add(fakeHinge(fakeLogits));
    }

    /** E[max(0, 1 - D(real))]: the real half of the discriminator's hinge loss. */
    public static Tensor realHinge(Tensor realLogits) {
        return realLogits.rsub(1).relu().mean();
    }

    /** E[max(0, 1 + D(fake))]: the generated half. */
    public static Tensor fakeHinge(Tensor fakeLogits) {
        return fakeLogits.add(1).relu().mean();
    }

    /** L_adv^G = -E[D(fake)]: the student pushes its samples' logits up. */
    public static Tensor generatorHinge(Tensor fakeLogits) {
        return fakeLogits.mean().neg();
    }

    /**
     * R1 = (gamma / 2) E_b[sum_k |grad_{F_k} D_b|^2] (Mescheder et al. 2018) with respect to the discriminator's
     * inputs F_k, the frozen network's features of real data, as ADD applies it (not to pixels through the
     * feature network). D_b is the sample's per-token logits averaged (so gamma's scale depends on that
     * reduction: with mean-reduced logits gamma near 1 is needed at this scale, not the paper's 1e-5). The
     * inputs must require gradients and {@code perSampleLogits} (B,) must have been computed from them, so the
     * features are computed once per discriminator step; the gradient is taken with create_graph, so the
     * penalty back-propagates into the discriminator.
     */
    public static Tensor r1Penalty(Tensor perSampleLogits, List<Tensor> inputs, double gamma) {
        Tensor[] grads = Autograd.grad(List.of(perSampleLogits.sum()), inputs, null, true, true, false);
        long batch = perSampleLogits.size(0);
        Tensor total = null;
        for (Tensor g : grads) {
            Tensor perSample = g.pow(2).reshape(batch, -1).sum(new long[] {1}, false);
            total = total == null ? perSample : total.add(perSample);
        }
        return total.mean().mul(gamma / 2);
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
