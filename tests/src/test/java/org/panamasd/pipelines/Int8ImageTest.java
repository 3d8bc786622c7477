package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.golden.Bfloat16Tolerance;
import org.panamasd.nn.WeightFormat;
import org.panamasd.support.GoldenRoot;
import org.panamasd.support.NativeTest;

/**
 * The same seeded images drawn with dense and with int8 weights ({@code --weights int8}) must agree within the
 * PSNR bound that bfloat16 is held to ({@link Bfloat16Tolerance}, 30 dB): the shipped trained Fashion-MNIST models
 * over the ten class prompts and the golden cases' tiny random SD pipeline, in float32 and in bfloat16; and the
 * int8 models keep one byte a linear or convolution weight (a quarter of float32's bytes, half of bfloat16's).
 */
class Int8ImageTest extends NativeTest {
    private static final Path MODELS = Path.of(System.getProperty("panamasd.root", "..")).resolve("models");

    private static double psnr(String what, Tensor dense, Tensor int8) {
        return Bfloat16Tolerance.assertImagesAgree(what, "int8 vs dense weights", dense, int8);
    }

    /** The images of {@code requests}, and the bytes of the UNet's and text encoder's 2-d and 4-d weights. */
    private record Drawn(Tensor images, long layerWeightBytes) {}

    private static Drawn draw(Path dir, DType dtype, WeightFormat weights, List<GenerationRequest> requests) {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(dir, null, Device.CPU, dtype, weights)) {
            assertEquals(dtype, pipe.dtype());
            List<Tensor> images = new ArrayList<>();
            for (GenerationRequest r : requests) images.add(pipe.generate(r).image());
            long bytes = 0;
            for (Map<String, Tensor> component : pipe.adaptableWeights().values())
                for (Map.Entry<String, Tensor> p : component.entrySet())
                    if (p.getKey().endsWith(".weight") && (p.getValue().dim() == 2 || p.getValue().dim() == 4) && !p.getKey().contains("embedding"))
                        bytes += p.getValue().numel() * p.getValue().dtype().elementSize();
            return new Drawn(Tensor.cat(0, images.toArray(Tensor[]::new)), bytes);
        }
    }

    private static void compare(String what, Path dir, DType dtype, List<GenerationRequest> requests) {
        try (Scope scope = Scope.open()) {
            Drawn dense = draw(dir, dtype, WeightFormat.DENSE, requests), int8 = draw(dir, dtype, WeightFormat.INT8, requests);
            psnr(what + ", " + dtype.name().toLowerCase(), dense.images(), int8.images());
            double ratio = (double) int8.layerWeightBytes() / dense.layerWeightBytes();
            assertEquals(1.0 / dtype.elementSize(), ratio, 1e-9, what + ": int8 layer weights take one byte where " + dtype + " takes " + dtype.elementSize());
        }
    }

    @Test
    void theTinySdPipelinesImageWithInt8Weights() {
        Path dir = GoldenRoot.directory("sd-pipeline-tiny/pipeline");
        List<GenerationRequest> requests = List.of(GenerationRequest.of("a red cube on a table", 3, 7.5, 32, 32, 3));
        compare("tiny SD pipeline", dir, DType.FLOAT32, requests);
    }

    /** A shipped trained model over the ten class prompts (seeds seed .. seed + 9). */
    @ParameterizedTest
    @CsvSource({"fashion-teacher, 10, 3.0, 200, FLOAT32", "fashion-turbo, 1, 0, 100, FLOAT32", "fashion-turbo, 1, 0, 100, BFLOAT16"})
    void theShippedModelsClassImagesWithInt8Weights(String model, int steps, double guidance, long seed, DType dtype) {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int c = 0; c < 10; c++) requests.add(GenerationRequest.of(FashionCaptions.prompt(c), steps, guidance, 32, 32, seed + c));
        compare(model + ", " + steps + " step(s), guidance " + guidance + ", 10 classes", MODELS.resolve(model), dtype, requests);
    }
}
