package org.panamasd.schedulers;

/**
 * The variance schedule beta_1 ... beta_T of the forward process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1},
 * beta_t I) (design notes, eq. 5). Values follow diffusers' float32 computation.
 */
public enum BetaSchedule {
    /** DDPM's linear schedule. */
    LINEAR("linear"),
    /** Linear in sqrt(beta), as latent diffusion / Stable Diffusion train with. */
    SCALED_LINEAR("scaled_linear"),
    /** Nichol and Dhariwal's cosine schedule of alpha-bar, with betas capped at 0.999. */
    SQUAREDCOS_CAP_V2("squaredcos_cap_v2");

    private final String configName;

    BetaSchedule(String configName) {
        this.configName = configName;
    }

    public static BetaSchedule fromConfigName(String name) {
        for (BetaSchedule s : values()) if (s.configName.equals(name)) return s;
        throw new IllegalArgumentException("unknown beta_schedule '" + name + "' (linear, scaled_linear or squaredcos_cap_v2)");
    }

    public String configName() {
        return configName;
    }

    public double[] betas(int trainTimesteps, double betaStart, double betaEnd) {
        double[] betas = new double[trainTimesteps];
        switch (this) {
            case LINEAR -> {
                float[] line = linspace32(betaStart, betaEnd, trainTimesteps);
                for (int i = 0; i < trainTimesteps; i++) betas[i] = line[i];
            }
            case SCALED_LINEAR -> {
                float[] line = linspace32(Math.sqrt(betaStart), Math.sqrt(betaEnd), trainTimesteps);
                for (int i = 0; i < trainTimesteps; i++) betas[i] = line[i] * line[i];  // squared in float32
            }
            case SQUAREDCOS_CAP_V2 -> {
                // alpha_bar(t) = cos((t + 0.008) / 1.008 * pi / 2)^2; beta_i = min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999)
                for (int i = 0; i < trainTimesteps; i++) {
                    double t1 = (double) i / trainTimesteps, t2 = (double) (i + 1) / trainTimesteps;
                    betas[i] = (float) Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
                }
            }
        }
        return betas;
    }

    private static double cosineAlphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** torch.linspace in float32: the first half counts up from start, the second half down from end. */
    static float[] linspace32(double start, double end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = (float) start;
            return out;
        }
        float s = (float) start, e = (float) end;
        float step = (e - s) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++) out[i] = i < half ? s + step * i : e - step * (steps - i - 1);
        return out;
    }

    /**
     * Zero terminal SNR (Lin et al. 2023, Algorithm 1): shifts and scales sqrt(alpha-bar) so that its last
     * value is exactly 0 while its first is unchanged, then recovers the betas.
     */
    public static double[] rescaleZeroTerminalSnr(double[] betas) {
        int n = betas.length;
        double[] sqrtAlphaBar = new double[n];
        double cumulative = 1;
        for (int i = 0; i < n; i++) {
            cumulative *= 1 - betas[i];
            sqrtAlphaBar[i] = (float) Math.sqrt((float) cumulative);
        }
        double first = sqrtAlphaBar[0], last = sqrtAlphaBar[n - 1];
        double[] alphaBar = new double[n];
        for (int i = 0; i < n; i++) {
            double shifted = (float) (sqrtAlphaBar[i] - last);
            double scaled = (float) (shifted * (float) (first / (float) (first - last)));
            alphaBar[i] = (float) (scaled * scaled);
        }
        double[] rescaled = new double[n];
        rescaled[0] = (float) (1 - alphaBar[0]);
        for (int i = 1; i < n; i++) rescaled[i] = (float) (1 - (double) (float) (alphaBar[i] / alphaBar[i - 1]));
        return rescaled;
    }
}
