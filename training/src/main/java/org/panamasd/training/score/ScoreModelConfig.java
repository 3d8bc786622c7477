package org.panamasd.training.score;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.panamasd.io.ComponentWriter;
import org.panamasd.sde.Sde;
import org.panamasd.sde.VESDE;
import org.panamasd.sde.VPSDE;

/**
 * What a score model directory's {@code score_config.json} says: the objective it was trained with ({@code ncsn},
 * {@code ve} or {@code vp}) and its noise range, the likelihood-weighting flag, and the image shape (C, H, W).
 * The network beside it is a {@link org.panamasd.models.unet.ClassConditionalUNet}.
 */
public record ScoreModelConfig(String kind, double sigmaMin, double sigmaMax, int levels, double betaMin, double betaMax,
                               boolean likelihoodWeighting, int channels, int size) {
    public static final String FILE = "score_config.json";

    public ScoreModelConfig {
        if (!kind.equals("ncsn") && !kind.equals("ve") && !kind.equals("vp"))
            throw new IllegalArgumentException("score model kind must be ncsn, ve or vp, got '" + kind + "'");
    }

    /**
     * NCSN and VE: sigma in [0.01, 50], Song et al. 2021's CIFAR-10 VE range (NCSNv2's first technique puts sigma_max at
     * the largest distance between two training images: at most 56 for 784 pixels in [-1, 1]); VP: beta in [0.1, 20].
     */
    public static ScoreModelConfig defaults(String kind) {
        return new ScoreModelConfig(kind, 0.01, 50, 100, 0.1, 20, false, 1, 28);
    }

    public ScoreModelConfig withLikelihoodWeighting(boolean on) {
        return new ScoreModelConfig(kind, sigmaMin, sigmaMax, levels, betaMin, betaMax, on, channels, size);
    }

    public ScoreModelConfig withSigmas(double min, double max, int levels) {
        return new ScoreModelConfig(kind, min, max, levels, betaMin, betaMax, likelihoodWeighting, channels, size);
    }

    public boolean isLadder() {
        return kind.equals("ncsn");
    }

    /** The SDE of a {@code ve} or {@code vp} model. */
    public Sde sde() {
        return switch (kind) {
            case "ve" -> new VESDE(sigmaMin, sigmaMax);
            case "vp" -> new VPSDE(betaMin, betaMax);
            default -> throw new IllegalStateException("an NCSN model has a sigma ladder, not an SDE");
        };
    }

    public ScoreObjective objective() {
        return isLadder() ? new NcsnObjective(sigmaMin, sigmaMax, levels) : new SdeObjective(sde(), likelihoodWeighting);
    }

    /** The std of the noise sampling starts from: sigma_max for NCSN and VE, 1 for VP. */
    public double priorStd() {
        return isLadder() ? sigmaMax : sde().priorStd();
    }

    public void write(Path directory) {
        var json = new ObjectMapper().createObjectNode().put("kind", kind).put("sigma_min", sigmaMin).put("sigma_max", sigmaMax)
                .put("levels", levels).put("beta_min", betaMin).put("beta_max", betaMax).put("likelihood_weighting", likelihoodWeighting)
                .put("channels", channels).put("size", size);
        try {
            ComponentWriter.writeText(directory.resolve(FILE), json.toPrettyString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + directory.resolve(FILE), e);
        }
    }

    public static ScoreModelConfig read(Path directory) {
        try {
            JsonNode j = new ObjectMapper().readTree(directory.resolve(FILE).toFile());
            return new ScoreModelConfig(j.path("kind").asText(""), j.path("sigma_min").asDouble(0.01), j.path("sigma_max").asDouble(50),
                    j.path("levels").asInt(100), j.path("beta_min").asDouble(0.1), j.path("beta_max").asDouble(20),
                    j.path("likelihood_weighting").asBoolean(false), j.path("channels").asInt(1), j.path("size").asInt(28));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + directory.resolve(FILE), e);
        }
    }

    public static boolean isScoreModel(Path directory) {
        return java.nio.file.Files.isRegularFile(directory.resolve(FILE));
    }
}
