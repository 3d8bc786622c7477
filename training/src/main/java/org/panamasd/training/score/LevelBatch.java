package org.panamasd.training.score;

import org.panamasd.Tensor;

/** One {@link ScoreObjective.Level} per example, as (B,) float32 tensors in the current scope. */
record LevelBatch(Tensor mean, Tensor std, Tensor weight, Tensor condition) {

    static LevelBatch of(ScoreObjective objective, double[] levels) {
        int batch = levels.length;
        float[] mean = new float[batch], std = new float[batch], weight = new float[batch], condition = new float[batch];
        for (int i = 0; i < batch; i++) {
            ScoreObjective.Level l = objective.at(levels[i]);
            mean[i] = (float) l.mean();
            std[i] = (float) l.std();
            weight[i] = (float) l.weight();
            condition[i] = (float) l.condition();
        }
        return new LevelBatch(Tensor.of(mean, batch), Tensor.of(std, batch), Tensor.of(weight, batch), Tensor.of(condition, batch));
    }
}
