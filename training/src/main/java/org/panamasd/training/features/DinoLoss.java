package org.panamasd.training.features;

import java.util.List;
import org.panamasd.Autograd;
import org.panamasd.Tensor;

/**
 * DINO's self-distillation loss (Caron et al. 2021, eq. 1 and sec. 3.1): for every global view q the teacher's
 * distribution P_t(q) = softmax((g_t(q) - c) / tau_t), centred and sharpened, is the target of the student's
 * log P_s(v) = log_softmax(g_s(v) / tau_s) on every other view v; the loss is the mean over those pairs of
 * -sum_k P_t log P_s. Centring (subtracting c, an EMA of the teacher's mean output) keeps one prototype from
 * winning every image; sharpening (tau_t below tau_s) keeps the distributions from going uniform: the two
 * together are what stops the collapse.
 */
public final class DinoLoss {
    private DinoLoss() {}

    /**
     * @param teacher the teacher's logits on the global views, in view order (no graph needed)
     * @param student the student's logits on all views, the global views first in the same order
     * @param center  (1, K)
     */
    public static Tensor of(List<Tensor> teacher, List<Tensor> student, Tensor center, double teacherTemperature, double studentTemperature) {
        Tensor total = null;
        int pairs = 0;
        for (int q = 0; q < teacher.size(); q++) {
            Tensor target;
            try (var frozen = Autograd.noGrad()) {
                target = teacher.get(q).detach().sub(center).div(teacherTemperature).softmax(1);
            }
            for (int v = 0; v < student.size(); v++) {
                if (v == q) continue;  // a view is not its own target
                Tensor term = target.mul(student.get(v).div(studentTemperature).logSoftmax(1)).sum(new long[] {1}, false).mean().neg();
                total = total == null ? term : total.add(term);
                pairs++;
            }
        }
        if (total == null) throw new IllegalArgumentException("DINO needs at least two views, got " + student.size());
        return total.div(pairs);
    }

    /** c <- m c + (1 - m) mean of the teacher's logits over every global view's batch, in place. */
    public static void updateCenter(Tensor center, List<Tensor> teacher, double momentum) {
        try (var frozen = Autograd.noGrad()) {
            Tensor mean = Tensor.cat(0, teacher.stream().map(Tensor::detach).toArray(Tensor[]::new)).mean(new long[] {0}, true);
            center.copyFrom(center.mul(momentum).add(mean, 1 - momentum));
        }
    }

    /** The mean entropy (nats) of the teacher's centred, sharpened distributions: near 0 or near log K means collapse. */
    public static double teacherEntropy(List<Tensor> teacher, Tensor center, double teacherTemperature) {
        try (var frozen = Autograd.noGrad()) {
            double sum = 0;
            for (Tensor t : teacher) {
                Tensor logP = t.detach().sub(center).div(teacherTemperature).logSoftmax(1);
                sum += logP.exp().mul(logP).sum(new long[] {1}, false).mean().neg().item();
            }
            return sum / teacher.size();
        }
    }
}
