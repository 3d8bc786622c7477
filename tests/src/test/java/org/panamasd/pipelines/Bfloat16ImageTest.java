package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.golden.Bfloat16Tolerance;
import org.panamasd.support.GoldenRoot;
import org.panamasd.support.NativeTest;

/**
 * The same seeded images drawn with the models in float32 and in bfloat16 must agree within the PSNR bound of
 * {@link Bfloat16Tolerance} (30 dB: an RMS error of 3.2 % of the range): the golden cases' tiny random SD and SDXL
 * pipelines (guided, several steps), and the shipped trained Fashion-MNIST models over the ten class prompts: the
 * teacher (guided DDIM, 10 steps) and the 1-step Turbo student.
 */
class Bfloat16ImageTest extends NativeTest {
    private static final Path MODELS = Path.of(System.getProperty("panamasd.root", "..")).resolve("models");

    private static double psnr(String what, Tensor float32, Tensor bfloat16) {
        return Bfloat16Tolerance.assertImagesAgree(what, "bfloat16 vs float32", float32, bfloat16);
    }

    /** The images of {@code requests} from the SD 1.x / 2.x directory {@code dir}, its models in {@code dtype}. */
    private static Tensor sdImages(Path dir, DType dtype, List<GenerationRequest> requests) {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(dir, null, Device.CPU, dtype)) {
            assertEquals(dtype, pipe.dtype());
            List<Tensor> images = new ArrayList<>();
            for (GenerationRequest r : requests) images.add(pipe.generate(r).image());
            return Tensor.cat(0, images.toArray(Tensor[]::new));
        }
    }

    @Test
    void theTinySdPipelinesImageInBfloat16() {
        Path dir = GoldenRoot.directory("sd-pipeline-tiny/pipeline");
        List<GenerationRequest> requests = List.of(GenerationRequest.of("a red cube on a table", 3, 7.5, 32, 32, 3),
                GenerationRequest.of("a photo of an astronaut riding a horse on mars", 1, 0, 32, 32, 4));
        try (Scope scope = Scope.open()) {
            psnr("tiny SD pipeline", sdImages(dir, DType.FLOAT32, requests), sdImages(dir, DType.BFLOAT16, requests));
        }
    }

    @Test
    void theTinySdxlPipelinesImageInBfloat16() {
        Path dir = GoldenRoot.directory("sdxl-pipeline-tiny/pipeline");
        GenerationRequest request = GenerationRequest.of("a racoon in a robe", 2, 5.0, 32, 48, 4);
        try (Scope scope = Scope.open()) {
            Tensor[] images = new Tensor[2];
            DType[] dtypes = {DType.FLOAT32, DType.BFLOAT16};
            for (int i = 0; i < 2; i++) {
                try (StableDiffusionXLPipeline pipe = StableDiffusionXLPipeline.load(dir, null, Device.CPU, dtypes[i])) {
                    assertEquals(dtypes[i], pipe.dtype());
                    images[i] = pipe.generate(request).image();
                }
            }
            psnr("tiny SDXL pipeline", images[0], images[1]);
        }
    }

    /** A shipped trained model over the ten class prompts (seeds seed .. seed + 9). */
    @ParameterizedTest
    @CsvSource({"fashion-teacher, 10, 3.0, 200", "fashion-turbo, 1, 0, 100"})
    void theShippedModelsClassImagesInBfloat16(String model, int steps, double guidance, long seed) {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int c = 0; c < 10; c++) requests.add(GenerationRequest.of(FashionCaptions.prompt(c), steps, guidance, 32, 32, seed + c));
        try (Scope scope = Scope.open()) {
            psnr(model + ", " + steps + " step(s), guidance " + guidance + ", 10 classes", sdImages(MODELS.resolve(model), DType.FLOAT32, requests),
                    sdImages(MODELS.resolve(model), DType.BFLOAT16, requests));
        }
    }
}
