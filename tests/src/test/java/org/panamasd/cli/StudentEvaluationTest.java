package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.support.NativeTest;

/**
 * train-add's evaluation during the run: the EMA weights are what is scored (swapped in for the sampling), the
 * trained weights are back afterwards, every score is a line of evaluation.tsv, and only a better FID counts as
 * the best so far. On the shipped student and evaluator.
 */
class StudentEvaluationTest extends NativeTest {
    private static final Path MODELS = Path.of(System.getProperty("panamasd.root", "..")).resolve("models");

    @Test
    void theEmaWeightsAreScoredAndTheTrainedOnesKept(@TempDir Path out) throws Exception {
        Path turbo = MODELS.resolve("fashion-turbo");
        try (Scope scope = Scope.open(); CLIPTextModel text = CLIPTextModel.load(turbo.resolve("text_encoder"));
             UNet2DConditionModel student = UNet2DConditionModel.load(turbo.resolve("unet"));
             AutoencoderKL vae = AutoencoderKL.load(turbo.resolve("vae"));
             StudentEvaluation evaluation = new StudentEvaluation(MODELS.resolve("fashion-evaluator"), out, 1, CLIPTokenizer.load(turbo.resolve("tokenizer")),
                     text, student, vae, DiffusersConfig.read(turbo.resolve("scheduler/scheduler_config.json")), 5, 3)) {
            Map<String, Tensor> trained = new LinkedHashMap<>(), shipped = new LinkedHashMap<>(), broken = new LinkedHashMap<>();
            student.parameters().forEach((name, t) -> {
                shipped.put(name, t.copy());
                broken.put(name, t.mul(0));  // an "EMA" that draws nothing recognisable
            });
            student.parameters().forEach((name, t) -> t.copyFrom(broken.get(name)));  // the weights in training differ from the EMA
            student.parameters().forEach((name, t) -> trained.put(name, t.copy()));

            assertTrue(evaluation.score(10, shipped), "the first score is the best so far");
            assertFalse(evaluation.score(20, broken), "a worse FID is not the best");
            assertTrue(evaluation.score(30, shipped) == false, "an equal FID is not better either");
            for (var e : student.parameters().entrySet())
                assertEquals(0, e.getValue().sub(trained.get(e.getKey())).abs().max().item(), "the trained weights are back: " + e.getKey());

            var lines = Files.readAllLines(out.resolve("evaluation.tsv"));
            assertEquals(4, lines.size(), lines.toString());
            double good = Double.parseDouble(lines.get(1).split("\t")[1]), bad = Double.parseDouble(lines.get(2).split("\t")[1]);
            assertTrue(good < bad, "the shipped EMA weights score a lower FID than zeroed ones: " + good + " vs " + bad);
            assertEquals(good, Double.parseDouble(lines.get(3).split("\t")[1]), 1e-9, "the same weights from the same noise score the same");
            evaluation.plot(out.resolve("add-evaluation.png"));
            assertTrue(Files.size(out.resolve("add-evaluation.png")) > 0 && Files.size(out.resolve("add-evaluation-fid.png")) > 0);
        }
    }
}
