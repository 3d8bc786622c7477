package org.panamasd.schedulers;

import org.panamasd.Tensor;

/**
 * What the model predicts (diffusers' prediction_type). With x_t = a x_0 + s eps (a = sqrt(alpha-bar),
 * s = sqrt(1 - alpha-bar)): epsilon predicts eps, sample predicts x_0, v_prediction predicts v = a eps - s x_0.
 */
public enum PredictionType {
    EPSILON("epsilon"),
    V_PREDICTION("v_prediction"),
    SAMPLE("sample");

    private final String configName;

    PredictionType(String configName) {
        this.configName = configName;
    }

    public static PredictionType fromConfigName(String name) {
        for (PredictionType p : values()) if (p.configName.equals(name)) return p;
        throw new IllegalArgumentException("unknown prediction_type '" + name + "' (epsilon, v_prediction or sample)");
    }

    public String configName() {
        return configName;
    }

    /** x_0 from the model output at a point with signal a and noise s (design notes, eq. 16 for epsilon). */
    public Tensor originalSample(Tensor modelOutput, Tensor sample, double a, double s) {
        return switch (this) {
            case EPSILON -> sample.sub(modelOutput.mul(s)).div(a);
            case SAMPLE -> modelOutput;
            case V_PREDICTION -> sample.mul(a).sub(modelOutput.mul(s));
        };
    }

    /** eps from the model output at a point with signal a and noise s. */
    public Tensor epsilon(Tensor modelOutput, Tensor sample, double a, double s) {
        return switch (this) {
            case EPSILON -> modelOutput;
            case SAMPLE -> sample.sub(modelOutput.mul(a)).div(s);
            case V_PREDICTION -> modelOutput.mul(a).add(sample.mul(s));
        };
    }
}
