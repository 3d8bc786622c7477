package org.panamasd.training.score;

import java.nio.file.Path;
import org.panamasd.Autograd;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionMnist;
import org.panamasd.models.unet.ClassConditionalUNet;
import org.panamasd.schedulers.NoiseSource;

/**
 * A trained class-conditional score model on disk ({@code score_config.json} beside a
 * {@link ClassConditionalUNet}), loaded for sampling: images of given classes in the evaluation's format.
 */
public final class ScoreImageModel implements AutoCloseable {
    private final ScoreModelConfig config;
    private final ClassConditionalUNet network;
    private final ScoreModel model;

    private ScoreImageModel(ScoreModelConfig config, ClassConditionalUNet network) {
        this.config = config;
        this.network = network;
        this.model = new ScoreModel(network::forward, config.objective(), network.nullClass());
    }

    public static ScoreImageModel load(Path directory) {
        return new ScoreImageModel(ScoreModelConfig.read(directory), ClassConditionalUNet.load(directory));
    }

    /** Writes a model directory: the network's layout with {@code weights} (e.g. the EMA's) and the config. */
    public static void save(Path directory, ScoreModelConfig config, ClassConditionalUNet network, java.util.Map<String, Tensor> weights) {
        network.save(directory, weights);
        config.write(directory);
    }

    public ScoreModelConfig config() {
        return config;
    }

    /**
     * Samples of {@code labels} (B,) from {@code standardNoise} (B, C, H, W) ~ N(0, I), as (B, 3, H + 4, W + 4) in
     * [0, 1]: padded and repeated over RGB as {@link FashionMnist#paddedRgb} shows real images, in the current scope.
     */
    public Tensor images(Tensor labels, Tensor standardNoise, ScoreSampler sampler, int steps, double guidance, NoiseSource noise) {
        try (Scope s = Scope.open(); var inference = Autograd.inferenceMode()) {
            Tensor x = sampler.sample(config, model.scoreFunction(labels, guidance), standardNoise, steps, noise);
            return FashionMnist.toPaddedRgb(x.clamp(-1, 1)).add(1).div(2).moveToParent();
        }
    }

    @Override
    public void close() {
        network.close();
    }
}
