package org.panamasd.schedulers;

import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * The linear multistep method on the probability-flow ODE in sigma space (Karras et al. 2022 sampler family;
 * k-diffusion's sample_lms): with d_i = (x_i - x_0) / sigma_i, x_{i+1} = x_i + sum_j c_j d_{i-j}, where c_j
 * integrates the Lagrange basis polynomial of sigma_{i-j} over the last {@code order} sigmas from sigma_i to
 * sigma_{i+1}. The first steps use as many derivatives as they have.
 */
public final class LMSDiscreteScheduler extends SigmaScheduler {
    static final Set<String> FIELDS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
            "use_karras_sigmas", "prediction_type", "timestep_spacing", "steps_offset");
    /** diffusers' default for step(order=...), which its pipelines use. */
    public static final int DEFAULT_ORDER = 4;

    private final boolean karras;
    private int order = DEFAULT_ORDER;
    private TensorHistory history = new TensorHistory(DEFAULT_ORDER);
    private double[] lastCoefficients = new double[0];

    public LMSDiscreteScheduler(DiffusersConfig config) {
        super(config);
        config.warnUnknown("LMSDiscreteScheduler", FIELDS);
        this.karras = config.bool("use_karras_sigmas", false);
    }

    /** The multistep order (diffusers' step(order=...)); takes effect from the next setTimesteps. */
    public LMSDiscreteScheduler order(int order) {
        if (order < 1) throw new IllegalArgumentException("LMS order must be at least 1, got " + order);
        this.order = order;
        return this;
    }

    @Override
    public void setTimesteps(int steps) {
        double[] t = spacedTimesteps(steps);
        double[] s = interpolatedSigmas(t);
        if (karras) {
            s = SigmaSteps.karras(s[steps - 1], s[0], steps);
            t = timestepsOf(s);  // kept in double: the reference leaves Karras timesteps as float64 here (Euler casts to float32)
        }
        this.sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) sigmas[i] = (float) s[i];
        this.timesteps = t;
        position.reset();
        history.clear();
        if (history.capacity() != order) history = new TensorHistory(order);
        lastCoefficients = new double[0];
    }

    /** The multistep coefficients c_0 (newest derivative) .. of the last step. */
    public double[] lastCoefficients() {
        return lastCoefficients.clone();
    }

    @Override
    public StepOutput step(Tensor modelOutput, double timestep, Tensor sample, NoiseSource noise) {
        int i = index(timestep);
        double sigma = sigmas[i];
        Tensor x = sample.dtype() == DType.FLOAT32 ? sample : sample.to(DType.FLOAT32);
        Tensor x0 = originalSample(modelOutput, x, sigma, sigma);
        history.add(x.sub(x0).div(sigma));
        int used = Math.min(i + 1, order);
        double[] c = new double[used];
        Tensor prev = x;
        for (int j = 0; j < used; j++) {
            c[j] = coefficient(used, i, j);
            prev = prev.add(history.fromNewest(j).mul(c[j]));
        }
        lastCoefficients = c;
        position.advance();
        return new StepOutput(prev.to(modelOutput.dtype()), x0);
    }

    /**
     * The integral from sigma_i to sigma_{i+1} of prod_{k != j, k < used} (tau - sigma_{i-k}) / (sigma_{i-j} - sigma_{i-k}),
     * exact: the product is expanded into polynomial coefficients and integrated term by term (the reference
     * uses adaptive quadrature to 1e-4; a polynomial needs none).
     */
    private double coefficient(int used, int i, int j) {
        double[] poly = {1.0};  // poly[p] is the coefficient of tau^p
        double scale = 1.0;
        for (int k = 0; k < used; k++) {
            if (k == j) continue;
            double root = sigmas[i - k];
            double[] next = new double[poly.length + 1];
            for (int p = 0; p < poly.length; p++) {
                next[p + 1] += poly[p];
                next[p] -= root * poly[p];
            }
            poly = next;
            scale *= sigmas[i - j] - root;
        }
        double from = sigmas[i], to = sigmas[i + 1], integral = 0;
        for (int p = 0; p < poly.length; p++) integral += poly[p] * (Math.pow(to, p + 1) - Math.pow(from, p + 1)) / (p + 1);
        return integral / scale;
    }

    @Override
    public void close() {
        history.close();
    }
}
