package org.panamasd.sde;

import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * The probability-flow ODE dx/dt = f(x, t) - 1/2 g(t)^2 score(x, t) (Song et al. 2021, eq. 13), whose
 * trajectories share the SDE's marginals. It is deterministic, so it also encodes data to noise
 * ({@link #encode}) and back ({@link #sample}). Solvers: Heun with fixed steps, or the adaptive
 * Dormand-Prince RK45 pair with error control.
 */
public final class ProbabilityFlowOde {
    public enum Method { HEUN, RK45 }

    private final Sde sde;
    private final Method method;
    private final int steps;
    private final double rtol, atol;
    private int evaluations;

    private ProbabilityFlowOde(Sde sde, Method method, int steps, double rtol, double atol) {
        this.sde = sde;
        this.method = method;
        this.steps = steps;
        this.rtol = rtol;
        this.atol = atol;
    }

    public static ProbabilityFlowOde heun(Sde sde, int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        return new ProbabilityFlowOde(sde, Method.HEUN, steps, 0, 0);
    }

    /** Adaptive RK45; the paper's sampling uses rtol = atol = 1e-5. */
    public static ProbabilityFlowOde rk45(Sde sde, double rtol, double atol) {
        if (!(rtol > 0 && atol > 0)) throw new IllegalArgumentException("tolerances must be positive");
        return new ProbabilityFlowOde(sde, Method.RK45, 0, rtol, atol);
    }

    /** Score evaluations of the last solve. */
    public int evaluations() {
        return evaluations;
    }

    /** Integrates from T down to eps: noise to data. */
    public Tensor sample(Tensor xT, ScoreFunction score) {
        return solve(xT, score, sde.T(), sde.eps());
    }

    /** Integrates from eps up to T: data to its latent noise. */
    public Tensor encode(Tensor x0, ScoreFunction score) {
        return solve(x0, score, sde.eps(), sde.T());
    }

    private Tensor velocity(Tensor x, double t, ScoreFunction score) {
        evaluations++;
        double g = sde.diffusion(t);
        return sde.drift(x, t).sub(score.score(x, t).mul(0.5 * g * g));
    }

    /** Integrates from time {@code from} to time {@code to}, either direction. */
    public Tensor solve(Tensor start, ScoreFunction score, double from, double to) {
        evaluations = 0;
        return method == Method.HEUN ? heun(start, score, from, to) : rk45(start, score, from, to);
    }

    private Tensor heun(Tensor start, ScoreFunction score, double from, double to) {
        double h = (to - from) / steps;
        Tensor x = start;
        for (int i = 0; i < steps; i++) {
            double t = from + i * h;
            x = ReverseTime.step(state -> {
                Tensor k1 = velocity(state, t, score);
                Tensor euler = state.add(k1.mul(h));
                Tensor k2 = velocity(euler, t + h, score);
                return state.add(k1.add(k2).mul(h / 2));
            }, x);
        }
        return x;
    }

    // Dormand-Prince 5(4) tableau
    private static final double[][] A = {
            {},
            {1.0 / 5},
            {3.0 / 40, 9.0 / 40},
            {44.0 / 45, -56.0 / 15, 32.0 / 9},
            {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
            {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
            {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
    private static final double[] C = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
    private static final double[] B5 = {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0};
    private static final double[] B4 = {5179.0 / 57600, 0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200, 187.0 / 2100, 1.0 / 40};

    private Tensor rk45(Tensor start, ScoreFunction score, double from, double to) {
        double direction = Math.signum(to - from);
        double t = from;
        double h = direction * Math.abs(to - from) / 100;
        Tensor x = start;
        int rejected = 0;
        while (direction * (to - t) > 1e-12) {
            if (direction * (t + h - to) > 0) h = to - t;
            double stepH = h, stepT = t;
            double[] error = new double[1];
            Tensor candidate;
            try (Scope attempt = Scope.open()) {
                Tensor[] k = new Tensor[7];
                for (int s = 0; s < 7; s++) {
                    Tensor stage = x;
                    for (int j = 0; j < s; j++) if (A[s][j] != 0) stage = stage.add(k[j].mul(stepH * A[s][j]));
                    k[s] = velocity(stage, stepT + C[s] * stepH, score);
                }
                Tensor fifth = x, fourth = x;
                for (int s = 0; s < 7; s++) {
                    if (B5[s] != 0) fifth = fifth.add(k[s].mul(stepH * B5[s]));
                    if (B4[s] != 0) fourth = fourth.add(k[s].mul(stepH * B4[s]));
                }
                // RMS of the error scaled by atol + rtol * max(|x|, |x_new|), as scipy's RK45
                Tensor tolerance = x.abs().maximum(fifth.abs()).mul(rtol).add(atol);
                error[0] = fifth.sub(fourth).div(tolerance).pow(2).mean().sqrt().item();
                candidate = error[0] <= 1 ? fifth.moveToParent() : null;
            }
            if (candidate != null) {
                if (x != start) x.close();
                x = candidate;
                t = stepT + stepH;
            } else if (++rejected > 10_000) {
                throw new IllegalStateException("RK45 rejected 10000 steps at t=" + t + ": the score is not smooth enough");
            }
            double factor = error[0] == 0 ? 5 : Math.min(5, Math.max(0.2, 0.9 * Math.pow(error[0], -0.2)));
            h = stepH * factor;
        }
        return x;
    }
}
