package org.panamasd.training.score;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.optim.Optimizer;
import org.panamasd.training.LossCheck;
import org.panamasd.training.Ema;
import org.panamasd.training.LabelDropout;
import org.panamasd.training.LearningRateSchedule;

/**
 * Trains a score network by denoising score matching under any {@link ScoreObjective}: per example a level
 * (sigma or t), z ~ N(0, I), x~ = m x_0 + s z, and {@link DenoisingScoreMatching#loss} of the model's score
 * at (x~, level); AdamW with the given rate schedule, gradient norm clipped to 1, and an EMA of the weights
 * (what the papers sample from). Labels are dropped to the null class with probability {@code labelDropout}
 * so the model can be sampled with classifier-free guidance.
 */
public final class ScoreTrainer implements AutoCloseable {
    private final ScoreModel model;
    private final Map<String, Tensor> parameters;
    private final List<Tensor> trained;
    private final Optimizer optimizer;
    private final Ema ema;
    private final LearningRateSchedule learningRate;
    private final double labelDropout;
    private final int nullClass;
    private long step;

    /** {@code parameters}: the network's trained tensors by key; {@code nullClass} -1 for an unconditional network. */
    public ScoreTrainer(ScoreNetwork network, Map<String, Tensor> parameters, ScoreObjective objective, int nullClass,
                        LearningRateSchedule learningRate, double labelDropout, double emaDecay) {
        this.model = new ScoreModel(network, objective, nullClass);
        this.parameters = parameters;
        this.trained = new ArrayList<>(parameters.values());
        this.learningRate = learningRate;
        this.labelDropout = labelDropout;
        this.nullClass = nullClass;
        this.optimizer = Optimizer.adamW(trained, learningRate.at(1), 0.9, 0.999, 1e-8, 0.0, false);
        this.ema = new Ema(parameters, emaDecay);
    }

    public ScoreModel model() {
        return model;
    }

    /** One step on data x_0 (B, ...) with labels (B,) (null for an unconditional network); returns the loss before the step. */
    public double step(Tensor x0, Tensor labels, Generator generator) {
        step++;
        try (Scope s = Scope.open()) {
            int batch = (int) x0.size(0);
            LevelBatch levels = LevelBatch.of(model.objective(), model.objective().drawLevels(batch, generator));
            Tensor z = x0.randnLike(generator);
            Tensor perturbed = x0.mul(DenoisingScoreMatching.broadcast(levels.mean(), x0)).add(z.mul(DenoisingScoreMatching.broadcast(levels.std(), x0)));
            Tensor used = labels != null && nullClass >= 0 && labelDropout > 0 ? LabelDropout.apply(labels, labelDropout, nullClass, generator) : labels;
            Tensor score = model.score(perturbed, levels.mean(), levels.std(), levels.condition(), used);
            Tensor loss = DenoisingScoreMatching.loss(score, z, levels.std(), levels.weight());
            optimizer.setLearningRate(learningRate.at(step));
            optimizer.zeroGrad();
            loss.backward();
            LossCheck.gradientNorm(Optimizer.clipGradNorm(trained, 1.0, 2.0), step);
            optimizer.step();
            ema.update(step);
            return loss.item();
        }
    }

    /** Steps already taken (a resumed run sets it from its checkpoint). */
    public void setStepCount(long step) {
        this.step = step;
    }

    public Map<String, Tensor> emaWeights() {
        return ema.shadow();
    }

    /** What a checkpoint holds, by group name. */
    public Map<String, Map<String, Tensor>> checkpointWeights() {
        Map<String, Map<String, Tensor>> groups = new LinkedHashMap<>();
        groups.put("model", parameters);
        groups.put("ema", ema.shadow());
        return groups;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    @Override
    public void close() {
        ema.close();
        optimizer.close();
    }
}
