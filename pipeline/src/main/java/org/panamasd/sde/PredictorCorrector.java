package org.panamasd.sde;

import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSource;

/**
 * Predictor-corrector sampling (Song et al. 2021, Algorithm 1): at each time a Langevin corrector
 * (Algorithms 4-5, step size from a target signal-to-noise ratio) refines x for the current marginal, then
 * the reverse-diffusion predictor x <- x - (f - G^2 score) + G z, with f = f(x, t) dt and G = g(t) sqrt(dt),
 * moves it to the next time. The last predictor step returns the mean.
 */
public final class PredictorCorrector {
    private final Sde sde;
    private final int steps;
    private final double snr;
    private final int correctorSteps;

    /** snr 0.16 and one corrector step are the paper's CIFAR-10 VE settings; 0 corrector steps is the predictor alone. */
    public PredictorCorrector(Sde sde, int steps, double snr, int correctorSteps) {
        if (snr <= 0 && correctorSteps > 0) throw new IllegalArgumentException("snr must be positive, got " + snr);
        this.sde = sde;
        this.steps = steps;
        this.snr = snr;
        this.correctorSteps = correctorSteps;
    }

    public Tensor sample(Tensor xT, ScoreFunction score, NoiseSource noise) {
        double[] times = ReverseTime.grid(sde, steps);
        double dt = (sde.T() - sde.eps()) / steps;
        Tensor x = xT;
        for (int i = 0; i < steps; i++) {
            double t = times[i];
            boolean last = i == steps - 1;
            for (int c = 0; c < correctorSteps; c++) x = ReverseTime.step(state -> langevin(state, t, score, noise), x);
            x = ReverseTime.step(state -> {
                double g = sde.diffusion(t) * Math.sqrt(dt);
                Tensor reverse = sde.drift(state, t).mul(dt).sub(score.score(state, t).mul(g * g));
                Tensor mean = state.sub(reverse);
                return last ? mean : mean.add(noise.next(state.shape(), state.dtype(), state.device()).mul(g));
            }, x);
        }
        return x;
    }

    /** One corrector step: epsilon = 2 alpha (snr ||z|| / ||score||)^2, x <- x + epsilon score + sqrt(2 epsilon) z. */
    private Tensor langevin(Tensor x, double t, ScoreFunction score, NoiseSource noise) {
        Tensor grad = score.score(x, t);
        Tensor z = noise.next(x.shape(), x.dtype(), x.device());
        double gradNorm = meanNorm(grad), noiseNorm = meanNorm(z);
        double ratio = snr * noiseNorm / gradNorm;
        double alpha = sde.correctorAlpha(t, steps);
        // VP's alpha is 1 - beta(t) / N: with fewer steps than beta_max the step size would be negative (a NaN sample)
        if (!(alpha > 0)) throw new IllegalArgumentException("the Langevin corrector needs more steps: alpha = " + alpha + " at t = " + t + " with " + steps + " steps");
        double stepSize = 2 * alpha * ratio * ratio;
        return x.add(grad.mul(stepSize)).add(z.mul(Math.sqrt(2 * stepSize)));
    }

    /** The L2 norm per batch element (dim 0), averaged over the batch. */
    static double meanNorm(Tensor t) {
        long batch = t.dim() > 1 ? t.size(0) : 1;
        return t.reshape(batch, -1).pow(2).sum(new long[] {1}, false).sqrt().mean().item();
    }
}
