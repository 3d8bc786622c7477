package org.panamasd.evaluation;

import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.schedulers.NoiseSource;

/**
 * N samples of every class from a class-conditional sampler (a text-to-image pipeline prompted with the
 * class's canonical caption, or a score model given the label), from a fixed seed: the initial noise of
 * sample i of class c depends only on (seed, c, i), so two models (or step counts) of the same input shape
 * are compared on the same noise.
 */
public final class ClassSamples {
    private ClassSamples() {}

    /** A batch of images (n, 3, H, W) in [0, 1] of class {@code classIndex} from initial noise (n, ...), in the current scope. */
    @FunctionalInterface
    public interface Sampler {
        Tensor images(int classIndex, Tensor initialNoise, NoiseSource stepNoise);
    }

    /** Images (classes x perClass, 3, H, W) in [0, 1], class-major, in the current scope; labels via {@link #labels}. */
    public static Tensor generate(StableDiffusionPipeline pipe, int perClass, int steps, double guidance, int size, long seed, int batch) {
        int f = pipe.vaeScaleFactor();
        long channels = pipe.unet().config().inChannels();
        return generate((c, noise, stepNoise) -> {
            String[] prompts = new String[(int) noise.size(0)];
            java.util.Arrays.fill(prompts, FashionCaptions.prompt(c));
            GenerationRequest settings = GenerationRequest.of(prompts[0], steps, guidance, size, size, seed);
            return pipe.generateBatch(prompts, settings, noise, stepNoise).image();
        }, perClass, new long[] {channels, size / f, size / f}, seed, batch);
    }

    /** The same for any sampler, with initial noise N(0, I) of shape (perClass, noiseShape...) per class. */
    public static Tensor generate(Sampler sampler, int perClass, long[] noiseShape, long seed, int batch) {
        Tensor[] perClassImages = new Tensor[FashionCaptions.classes()];
        long[] shape = new long[noiseShape.length + 1];
        shape[0] = perClass;
        System.arraycopy(noiseShape, 0, shape, 1, noiseShape.length);
        for (int c = 0; c < perClassImages.length; c++) {
            Tensor noise;
            try (Generator g = new Generator(seed * 1000 + c)) {
                noise = Tensor.randn(g, shape);
            }
            Tensor[] parts = new Tensor[(perClass + batch - 1) / batch];
            for (int p = 0; p < parts.length; p++) {
                int from = p * batch, n = Math.min(batch, perClass - from);
                try (Scope s = Scope.open(); Generator stepNoise = new Generator(seed * 7919 + c * 131L + p)) {
                    parts[p] = sampler.images(c, noise.narrow(0, from, n), NoiseSource.of(stepNoise)).moveToParent();
                }
            }
            perClassImages[c] = Tensor.cat(0, parts);
        }
        return Tensor.cat(0, perClassImages);
    }

    /** The labels of {@link #generate}'s rows. */
    public static long[] labels(int perClass) {
        long[] labels = new long[perClass * FashionCaptions.classes()];
        for (int i = 0; i < labels.length; i++) labels[i] = i / perClass;
        return labels;
    }
}
