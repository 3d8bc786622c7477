package org.panamasd.schedulers;

import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * The training noise schedule and the closed-form forward process (design notes, eq. 6 and 9):
 * alpha_t = 1 - beta_t, alpha-bar_t = prod_{s<=t} alpha_s, and q(x_t | x_0) = N(sqrt(alpha-bar_t) x_0, (1 - alpha-bar_t) I).
 * Values are kept as diffusers' float32 numbers (held in doubles).
 */
public final class NoiseSchedule {
    private final double[] betas;
    private final double[] alphas;
    private final double[] alphasCumprod;

    private NoiseSchedule(double[] betas) {
        this.betas = betas;
        this.alphas = new double[betas.length];
        this.alphasCumprod = new double[betas.length];
        double cumulative = 1;
        for (int i = 0; i < betas.length; i++) {
            alphas[i] = (float) (1 - betas[i]);
            cumulative *= alphas[i];
            alphasCumprod[i] = (float) cumulative;
        }
    }

    /** The schedule a diffusers config describes: beta_schedule (or trained_betas), and zero terminal SNR. */
    public static NoiseSchedule fromConfig(DiffusersConfig config) {
        int trainTimesteps = config.integer("num_train_timesteps", 1000);
        if (trainTimesteps < 1) throw config.invalid("num_train_timesteps", trainTimesteps, "at least 1");
        double[] betas = config.numbers("trained_betas");
        if (betas != null) {
            if (betas.length != trainTimesteps)
                throw config.invalid("trained_betas", betas.length + " values", trainTimesteps + " values (num_train_timesteps)");
        } else {
            double start = config.number("beta_start", 0.0001), end = config.number("beta_end", 0.02);
            if (!(start > 0 && start < 1)) throw config.invalid("beta_start", start, "a number in (0, 1)");
            if (!(end > 0 && end < 1)) throw config.invalid("beta_end", end, "a number in (0, 1)");
            if (end < start) throw new IllegalArgumentException(config.source() + ": beta_end " + end + " < beta_start " + start);
            betas = BetaSchedule.fromConfigName(config.string("beta_schedule", "linear")).betas(trainTimesteps, start, end);
        }
        for (int i = 0; i < betas.length; i++)
            if (!(betas[i] >= 0 && betas[i] <= 1)) throw config.invalid("betas[" + i + "]", betas[i], "a value in [0, 1]");
        if (config.bool("rescale_betas_zero_snr", false)) betas = BetaSchedule.rescaleZeroTerminalSnr(betas);
        return new NoiseSchedule(betas);
    }

    public static NoiseSchedule of(double[] betas) {
        return new NoiseSchedule(betas.clone());
    }

    public int trainTimesteps() {
        return betas.length;
    }

    public double[] betas() {
        return betas.clone();
    }

    public double[] alphas() {
        return alphas.clone();
    }

    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    public double alphaCumprod(int t) {
        return alphasCumprod[t];
    }

    /** Eq. (9): x_t = sqrt(alpha-bar_t) x_0 + sqrt(1 - alpha-bar_t) eps, one timestep per batch row. */
    public Tensor addNoise(Tensor original, Tensor noise, long[] timesteps) {
        return perRow(original, timesteps, true).mul(original).add(perRow(original, timesteps, false).mul(noise));
    }

    /** The v-prediction target (Salimans and Ho): v = sqrt(alpha-bar_t) eps - sqrt(1 - alpha-bar_t) x_0. */
    public Tensor velocity(Tensor sample, Tensor noise, long[] timesteps) {
        return perRow(sample, timesteps, true).mul(noise).sub(perRow(sample, timesteps, false).mul(sample));
    }

    /** x_0 from a model's output at x_t with one timestep per batch row (eq. 16 for epsilon). */
    public Tensor originalSample(PredictionType type, Tensor modelOutput, Tensor sample, long[] timesteps) {
        Tensor a = perRow(sample, timesteps, true), s = perRow(sample, timesteps, false);
        return switch (type) {
            case EPSILON -> sample.sub(modelOutput.mul(s)).div(a);
            case SAMPLE -> modelOutput;
            case V_PREDICTION -> sample.mul(a).sub(modelOutput.mul(s));
        };
    }

    /** sqrt(alpha-bar_t) per row, shaped (B, 1, ..., 1) to broadcast over {@code like}. */
    public Tensor signalRates(Tensor like, long[] timesteps) {
        return perRow(like, timesteps, true);
    }

    /** sqrt(alpha-bar_t) (signal) or sqrt(1 - alpha-bar_t) (noise) per row, shaped to broadcast over like. */
    private Tensor perRow(Tensor like, long[] timesteps, boolean signal) {
        float[] values = new float[timesteps.length];
        for (int i = 0; i < timesteps.length; i++) {
            long t = timesteps[i];
            if (t < 0 || t >= alphasCumprod.length)
                throw new IllegalArgumentException("timestep " + t + " is outside [0, " + alphasCumprod.length + ")");
            values[i] = (float) Math.sqrt((float) (signal ? alphasCumprod[(int) t] : 1 - alphasCumprod[(int) t]));
        }
        return rowsLike(values, like);
    }

    /** One value per batch row, shaped (B, 1, ..., 1) to broadcast over {@code like}, of its dtype and on its device. */
    public static Tensor rowsLike(float[] values, Tensor like) {
        Tensor rows = Tensor.of(values, broadcastShape(values.length, like.dim())).to(like.dtype());
        return rows.device().equals(like.device()) ? rows : rows.to(like.device());
    }

    /** The same for values computed in double: each rounded to float first, as every per-row coefficient is. */
    public static Tensor rowsLike(double[] values, Tensor like) {
        float[] f = new float[values.length];
        for (int i = 0; i < values.length; i++) f[i] = (float) values[i];
        return rowsLike(f, like);
    }

    static long[] broadcastShape(int rows, int dims) {
        long[] shape = new long[Math.max(1, dims)];
        java.util.Arrays.fill(shape, 1);
        shape[0] = rows;
        return shape;
    }
}
