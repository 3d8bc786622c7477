package org.panamasd.sde;

import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSource;

/**
 * The Euler-Maruyama discretisation of the reverse SDE (Song et al. 2021, eq. 6), stepping from T to eps:
 * x <- x - [f(x, t) - g(t)^2 score(x, t)] dt + g(t) sqrt(dt) z. The last step returns the mean (no noise).
 */
public final class EulerMaruyama {
    private final Sde sde;
    private final int steps;

    public EulerMaruyama(Sde sde, int steps) {
        this.sde = sde;
        this.steps = steps;
    }

    public Tensor sample(Tensor xT, ScoreFunction score, NoiseSource noise) {
        double[] times = ReverseTime.grid(sde, steps);
        double dt = (sde.T() - sde.eps()) / steps;
        Tensor x = xT;
        for (int i = 0; i < steps; i++) {
            double t = times[i];
            boolean last = i == steps - 1;
            x = ReverseTime.step(state -> {
                double g = sde.diffusion(t);
                Tensor reverseDrift = sde.drift(state, t).sub(score.score(state, t).mul(g * g));
                Tensor mean = state.sub(reverseDrift.mul(dt));
                return last ? mean : mean.add(noise.next(state.shape(), state.dtype(), state.device()).mul(g * Math.sqrt(dt)));
            }, x);
        }
        return x;
    }
}
