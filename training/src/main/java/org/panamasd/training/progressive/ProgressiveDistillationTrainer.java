package org.panamasd.training.progressive;

import java.util.List;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.optim.Optimizer;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.TimestepSpacing;
import org.panamasd.training.DdimStep;
import org.panamasd.training.Ema;
import org.panamasd.training.add.AddTrainer;

/**
 * One round of progressive distillation (Salimans and Ho 2022, Algorithm 2): a student, initialised from its
 * teacher, learns to take in one DDIM step what the teacher does in two, so the sampler goes from 2N to N
 * steps. For z_t of a real x_0 at a student timestep t (trailing spacing of N steps), the teacher makes two
 * DDIM steps t -> t' -> t'' (t' the midpoint of its 2N-step grid); the target x̃ is the x_0 from which one
 * DDIM step t -> t'' lands exactly on the teacher's z_t'': x̃ = (z_t'' - (s''/s) z_t) / (a'' - (s''/s) a).
 * The student's x_0 regresses on it with the truncated-SNR weight max(a^2 / s^2, 1) (their eq. 10, in x-space).
 * With zero terminal SNR the first step starts from pure noise (a = 0), and below the last step a'' = 1.
 */
public final class ProgressiveDistillationTrainer implements AutoCloseable {
    private final AddTrainer.Denoiser student, teacher;
    private final NoiseSchedule schedule;
    private final int studentSteps;
    private final long[] grid;  // the teacher's 2N timesteps, descending; grid[2i] are the student's
    private final Optimizer optimizer;
    private final Ema ema;
    private final double teacherGuidance;
    private long step;

    public ProgressiveDistillationTrainer(AddTrainer.Denoiser student, Map<String, Tensor> studentParameters, AddTrainer.Denoiser teacher,
                                          NoiseSchedule schedule, int studentSteps, double teacherGuidance, double learningRate, double emaDecay) {
        if (studentSteps < 1) throw new IllegalArgumentException("the student needs at least 1 step, got " + studentSteps);
        this.student = student;
        this.teacher = teacher;
        this.schedule = schedule;
        this.studentSteps = studentSteps;
        double[] t = TimestepSpacing.TRAILING.timesteps(schedule.trainTimesteps(), 2 * studentSteps, 0);
        this.grid = new long[t.length];
        for (int i = 0; i < t.length; i++) grid[i] = (long) t[i];
        this.teacherGuidance = teacherGuidance;
        this.optimizer = Optimizer.adamW(List.copyOf(studentParameters.values()), learningRate, 0.9, 0.999, 1e-8, 0, false);
        this.ema = new Ema(studentParameters, emaDecay);
    }

    /** The teacher's grid point after index i, or -1 (alpha-bar = 1, the clean end) past the last. */
    private long next(int i) {
        return i + 1 < grid.length ? grid[i + 1] : -1;
    }

    /** One step on x_0 latents with their context (and the empty prompt's, for a guided teacher; null without). */
    public double step(Tensor latents, Tensor context, Tensor unconditional, Generator generator) {
        step++;
        try (Scope s = Scope.open()) {
            int b = (int) latents.size(0);
            long[] pick = Tensor.randint(0, studentSteps, generator, b).toLongArray();
            long[] t = new long[b], mid = new long[b], end = new long[b];
            for (int r = 0; r < b; r++) {
                int i = 2 * (int) pick[r];
                t[r] = grid[i];
                mid[r] = grid[i + 1];
                end[r] = next(i + 1);
            }
            Tensor z = schedule.addNoise(latents, latents.randnLike(generator), t);
            Tensor target;
            try (var frozen = Autograd.noGrad()) {
                Tensor zMid = DdimStep.step(schedule, z, teacherX0(z, t, context, unconditional), t, mid);
                Tensor zEnd = DdimStep.step(schedule, zMid, teacherX0(zMid, mid, context, unconditional), mid, end);
                target = onestepTarget(z, zEnd, t, end);
            }
            double[] w = new double[b];
            for (int r = 0; r < b; r++) {
                double a = DdimStep.alphaBar(schedule, t[r]);
                w[r] = Math.max(a / Math.max(1 - a, 1e-12), 1.0);
            }
            Tensor x0 = student.predictX0(z, t, context);
            Tensor perSample = x0.sub(target).pow(2).reshape(b, -1).mean(new long[] {1}, false);
            Tensor loss = perSample.mul(Tensor.of(w, b).to(x0.dtype())).mean();
            optimizer.zeroGrad();
            loss.backward();
            optimizer.step();
            ema.update(step);
            return loss.item();
        }
    }

    private Tensor teacherX0(Tensor z, long[] t, Tensor context, Tensor unconditional) {
        return AddTrainer.Denoiser.guided(teacher, z, t, context, unconditional, teacherGuidance);
    }

    /** The x̃ whose one DDIM step from z_t lands on z_t'': (z_t'' - (s''/s) z_t) / (a'' - (s''/s) a). */
    private Tensor onestepTarget(Tensor z, Tensor zEnd, long[] t, long[] end) {
        double[][] c = DdimStep.coefficients(schedule, t, end);
        return zEnd.sub(z.mul(NoiseSchedule.rowsLike(c[0], z))).div(NoiseSchedule.rowsLike(c[1], z));
    }

    public Map<String, Tensor> studentEma() {
        return ema.shadow();
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    @Override
    public void close() {
        ema.close();
        optimizer.close();
    }
}
