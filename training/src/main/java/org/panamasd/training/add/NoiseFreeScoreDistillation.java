package org.panamasd.training.add;

import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSchedule;

/**
 * The distillation target of noise-free score distillation (NFSD, Katzir et al. 2023), one of ADD's distillation
 * targets (Sauer et al. 2023, appendix). SDS moves the student's x̂ along s_t^2 (eps_teacher(x_t) - eps): the
 * noise eps it re-noised with is part of the step. NFSD splits the teacher's guided prediction into a condition
 * term delta_C = eps(x_t, y) - eps(x_t, empty) and a domain term delta_D, and steps along delta_D + g delta_C only,
 * leaving the noise out. delta_D is eps(x_t, empty) at low noise (t below a fifth of the training timesteps, the
 * paper's t < 200 of 1,000), where it is mostly the correction towards the data; above it NFSD takes
 * eps(x_t, empty) - eps(x_t, negative prompt), and a class-conditional teacher has no negative prompt, so here
 * delta_D is 0 there (the condition term alone).
 *
 * <p>As an x-space target with weight c(t) = s_t / 2 ({@link DistillationWeighting#NFSD}): target =
 * x̂ - s_t (delta_D + g delta_C), so the gradient of c(t) |x̂ - target|^2 is s_t^2 (delta_D + g delta_C), SDS's with
 * the noise term removed. Written with the teacher's x_0 predictions it needs no division by a_t (zero at the last
 * timestep of a zero-terminal-SNR schedule): s_t eps(x_t, .) = x_t - a_t x̂_0(x_t, .).
 */
final class NoiseFreeScoreDistillation {

    /** The share of the training timesteps below which delta_D is the unconditional prediction (200 of 1,000). */
    static final double DOMAIN_SHARE = 0.2;

    private NoiseFreeScoreDistillation() {}

    /**
     * @param student        x̂, the student's sample (B, ...)
     * @param renoised       x_t = a_t sg(x̂) + s_t eps
     * @param timesteps      t per row
     * @param unconditional  the teacher's x_0 prediction at x_t without the condition
     * @param conditional    the teacher's x_0 prediction at x_t with it
     * @param guidance       g, the weight of the condition term
     */
    static Tensor target(Tensor student, Tensor renoised, long[] timesteps, Tensor unconditional, Tensor conditional,
                         double guidance, NoiseSchedule schedule) {
        float[] domain = new float[timesteps.length];
        int domainLimit = (int) Math.round(DOMAIN_SHARE * schedule.trainTimesteps());
        for (int i = 0; i < timesteps.length; i++) domain[i] = timesteps[i] < domainLimit ? 1f : 0f;
        Tensor a = schedule.signalRates(student, timesteps), useDomain = NoiseSchedule.rowsLike(domain, student);
        // s_t delta_D = useDomain (x_t - a_t x̂_0(empty)); s_t g delta_C = -g a_t (x̂_0(y) - x̂_0(empty))
        Tensor domainStep = renoised.sub(unconditional.mul(a)).mul(useDomain);
        Tensor conditionStep = conditional.sub(unconditional).mul(a).mul(-guidance);
        return student.detach().sub(domainStep.add(conditionStep));
    }
}
