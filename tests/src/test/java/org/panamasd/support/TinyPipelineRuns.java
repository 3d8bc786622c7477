package org.panamasd.support;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.GenerationResult;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.pipelines.StableDiffusionXLPipeline;
import org.panamasd.schedulers.NoiseSource;

/**
 * The golden cases' tiny SD and SDXL pipelines run end to end on a device with fixed seeds and CPU generators
 * (text to image, image to image from a CPU image, SDXL with guidance): every step's tensors and every result
 * must be on that device. The images come back on the CPU, in the caller's scope.
 */
public final class TinyPipelineRuns {

    public record Images(Tensor textToImage, Tensor imageToImage, Tensor xl) {}

    public static Images run(Device device) {
        DenoisingListener onDevice = (i, t, input, output, guided, latents) -> {
            for (Tensor x : new Tensor[] {input, output, guided, latents}) assertEquals(device, x.device(), "step " + i);
        };
        Tensor textToImage, imageToImage, xl;
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(GoldenRoot.directory("sd-pipeline-tiny/pipeline"), null, device);
             Generator g = new Generator(3)) {
            assertEquals(device, pipe.device());
            GenerationRequest request = GenerationRequest.of("a red cube on a table", 3, 7.5, 32, 32, 3);
            textToImage = cpuImage(device, pipe.generate(request, g, NoiseSource.of(g), onDevice));
            Tensor image = Tensor.rand(g, 1, 3, 32, 40);  // on the CPU: the pipeline moves it
            imageToImage = cpuImage(device, pipe.imageToImage(request, image, 0.5, g, NoiseSource.of(g), onDevice));
        }
        try (StableDiffusionXLPipeline pipe = StableDiffusionXLPipeline.load(GoldenRoot.directory("sdxl-pipeline-tiny/pipeline"), null, device);
             Generator g = new Generator(4)) {
            xl = cpuImage(device, pipe.generate(GenerationRequest.of("a racoon in a robe", 2, 5.0, 32, 48, 4), g, NoiseSource.of(g), onDevice));
        }
        return new Images(textToImage, imageToImage, xl);
    }

    private static Tensor cpuImage(Device device, GenerationResult result) {
        for (Tensor x : new Tensor[] {result.latents(), result.decoded(), result.image()}) assertEquals(device, x.device(), "result");
        return result.image().to(Device.CPU);
    }

    private TinyPipelineRuns() {}
}
