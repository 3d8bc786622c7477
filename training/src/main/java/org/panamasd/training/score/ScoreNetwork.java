package org.panamasd.training.score;

import org.panamasd.Tensor;

/**
 * The trained network behind a score model: input x (B, ...), the noise-conditioning values (B,) of
 * {@link ScoreObjective.Level#condition()} and class labels (B,) (ignored by unconditional networks); it returns
 * a tensor shaped like x that {@link ScoreModel} reads as the noise in x.
 */
@FunctionalInterface
public interface ScoreNetwork {
    Tensor forward(Tensor x, Tensor condition, Tensor labels);
}
