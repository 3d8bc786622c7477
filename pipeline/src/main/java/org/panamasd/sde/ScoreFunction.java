package org.panamasd.sde;

import org.panamasd.Tensor;
import org.panamasd.schedulers.PredictionType;

/** grad_x log p_t(x): what every SDE sampler needs from a model. */
@FunctionalInterface
public interface ScoreFunction {

    Tensor score(Tensor x, double t);

    /** A network's output at (x, t). */
    @FunctionalInterface
    interface Model {
        Tensor predict(Tensor x, double t);
    }

    /**
     * The one conversion from an epsilon-, v- or x_0-predicting model: with x_t = m x_0 + s eps, the score of
     * the perturbation kernel is -eps / s, and eps comes from the prediction type's own conversion.
     */
    static ScoreFunction fromModel(Model model, PredictionType type, Sde sde) {
        return (x, t) -> {
            double m = sde.marginalMeanCoefficient(t), s = sde.marginalStd(t);
            return type.epsilon(model.predict(x, t), x, m, s).div(-s);
        };
    }
}
