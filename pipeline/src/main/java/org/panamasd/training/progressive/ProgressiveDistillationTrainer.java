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

    private double alphaBar(long t) {
        return t < 0 ? 1.0 : schedule.alphaCumprod((int) t);
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
                Tensor zMid = ddim(z, teacherX0(z, t, context, unconditional), t, mid);
                Tensor zEnd = ddim(zMid, teacherX0(zMid, mid, context, unconditional), mid, end);
                target = onestepTarget(z, zEnd, t, end);
            }
            double[] w = new double[b];
            for (int r = 0; r < b; r++) {
                double a = alphaBar(t[r]);
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
        if (teacherGuidance <= 1 || unconditional == null) return teacher.predictX0(z, t, context);
        long[] tt = java.util.Arrays.copyOf(t, 2 * t.length);
        System.arraycopy(t, 0, tt, t.length, t.length);
        Tensor[] halves = teacher.predictX0(Tensor.cat(0, z, z), tt, Tensor.cat(0, unconditional, context)).chunk(2, 0);
        return org.panamasd.schedulers.ClassifierFreeGuidance.combine(halves[0], halves[1], teacherGuidance);
    }

    /**
     * Per row, the DDIM (eta 0) step from t to t' as z' = cz z + cx x̂ with cz = s'/s and cx = a' - (s'/s) a.
     * The same pair inverts it: the x̂ that takes z to a given z' is (z' - cz z) / cx.
     */
    private double[][] ddimCoefficients(long[] from, long[] to) {
        int b = from.length;
        double[] cz = new double[b], cx = new double[b];
        for (int r = 0; r < b; r++) {
            double a = Math.sqrt(alphaBar(from[r])), s = Math.sqrt(1 - alphaBar(from[r]));
            double a2 = Math.sqrt(alphaBar(to[r])), s2 = Math.sqrt(1 - alphaBar(to[r]));
            cz[r] = s2 / s;
            cx[r] = a2 - s2 / s * a;
        }
        return new double[][] {cz, cx};
    }

    /** DDIM (eta 0) from z at t to t' given x̂: a' x̂ + s' (z - a x̂) / s, per row. */
    private Tensor ddim(Tensor z, Tensor x0, long[] from, long[] to) {
        double[][] c = ddimCoefficients(from, to);
        return z.mul(perRow(c[0], z)).add(x0.mul(perRow(c[1], z)));
    }

    /** The x̃ whose one DDIM step from z_t lands on z_t'': (z_t'' - (s''/s) z_t) / (a'' - (s''/s) a). */
    private Tensor onestepTarget(Tensor z, Tensor zEnd, long[] t, long[] end) {
        double[][] c = ddimCoefficients(t, end);
        return zEnd.sub(z.mul(perRow(c[0], z))).div(perRow(c[1], z));
    }

    private static Tensor perRow(double[] v, Tensor like) {
        long[] shape = new long[like.dim()];
        java.util.Arrays.fill(shape, 1);
        shape[0] = v.length;
        return Tensor.of(v, shape).to(like.dtype());
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
