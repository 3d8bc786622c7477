package org.panamasd.shipped;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.evaluation.ClassSamples;
import org.panamasd.evaluation.ConvClassifier;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.support.NativeTest;

/**
 * The models the repository ships load as diffusers directories and generate what the prompt names: the 1-step
 * Turbo student (no guidance) and the teacher (DDIM, guided) are judged by the shipped evaluator, a classifier
 * trained apart from the feature network ADD's discriminator looks through.
 */
class ShippedModelsTest extends NativeTest {
    private static final Path MODELS = Path.of(System.getProperty("panamasd.root", "..")).resolve("models");

    private static double accuracy(Path model, int steps, double guidance) {
        try (Scope scope = Scope.open(); StableDiffusionPipeline pipe = StableDiffusionPipeline.load(MODELS.resolve(model));
             ConvClassifier evaluator = ConvClassifier.load(MODELS.resolve("fashion-evaluator")).freeze()) {
            int perClass = 4;
            Tensor images = ClassSamples.generate(pipe, perClass, steps, guidance, 32, 123, 40);
            assertArrayEquals(new long[] {40, 3, 32, 32}, images.shape());
            long[] predicted = evaluator.predict(evaluator.features(images));
            long[] wanted = ClassSamples.labels(perClass);
            int correct = 0;
            for (int i = 0; i < wanted.length; i++) if (predicted[i] == wanted[i]) correct++;
            return (double) correct / wanted.length;
        }
    }

    @Test
    void theTurboStudentDrawsThePromptedClassInOneStep() {
        assertTrue(Files.isSymbolicLink(MODELS.resolve("fashion-turbo/vae")), "the student shares the teacher's VAE");
        // chance is 0.1; the evaluator is right on about 9 in 10 real test images
        double accuracy = accuracy(Path.of("fashion-turbo"), 1, 0);
        assertTrue(accuracy >= 0.5, "1-step student: class accuracy " + accuracy);
    }

    @Test
    void theTeacherDrawsThePromptedClass() {
        double accuracy = accuracy(Path.of("fashion-teacher"), 10, 3.0);
        assertTrue(accuracy >= 0.5, "teacher, DDIM 10: class accuracy " + accuracy);
        assertEquals(7, FashionCaptions.classOf("a photo of a sneaker"));
    }
}
