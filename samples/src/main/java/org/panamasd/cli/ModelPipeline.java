package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.GenerationResult;
import org.panamasd.pipelines.ControlNetConditioning;
import org.panamasd.pipelines.ModelSource;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.pipelines.StableDiffusionXLPipeline;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.nn.WeightFormat;

/** An SD 1.x / 2.x or SDXL pipeline behind one interface, chosen by the directory (SDXL has text_encoder_2/). */
sealed interface ModelPipeline extends AutoCloseable {
    /** The pipeline of {@code model}, its models computing in {@code dtype}. */
    static ModelPipeline load(Path model, String schedulerClass, DType dtype) {
        return load(ModelSource.directory(model), schedulerClass, dtype);
    }

    /** The pipeline of a directory or of a single original-layout file ({@link ModelSource}). */
    static ModelPipeline load(ModelSource source, String schedulerClass, DType dtype) {
        return load(source, schedulerClass, dtype, WeightFormat.DENSE);
    }

    /** As {@link #load(ModelSource, String, DType)}, the text encoders' and UNet's linear and convolution weights in {@code weights}. */
    static ModelPipeline load(ModelSource source, String schedulerClass, DType dtype, WeightFormat weights) {
        return source.xl() ? new Xl(source.loadXl(schedulerClass, Device.CPU, dtype, weights)) : new Sd(source.load(schedulerClass, Device.CPU, dtype, weights));
    }

    /** A model as the command line names it: a directory, or a single file with an optional config directory and prediction type. */
    static ModelSource source(Path model, Path configDir, boolean ema, String predictionType) {
        if (!Files.exists(model)) throw new IllegalArgumentException("--model: no model directory or file " + model);
        if (!Files.isRegularFile(model) && (configDir != null || ema || predictionType != null))
            throw new IllegalArgumentException("--config, --ema and --prediction-type apply to a single-file checkpoint; " + model + " is a directory");
        if (configDir != null && !Files.isDirectory(configDir)) throw new IllegalArgumentException("--config: no directory " + configDir);
        if (predictionType != null && !predictionType.equals("epsilon") && !predictionType.equals("v_prediction"))
            throw new IllegalArgumentException("--prediction-type must be epsilon or v_prediction, got '" + predictionType + "'");
        return new ModelSource(model, configDir, Paths.root().resolve(CLIP_TOKENIZER), ema, predictionType);
    }

    /** The CLIP BPE tokenizer shipped with the repository (the real vocabulary), for single files without a config directory. */
    String CLIP_TOKENIZER = "models/fashion-teacher/tokenizer";

    /** Text to image; initial latents and scheduler noise from {@code generator}, as the reference draws them; a ControlNet's guidance or null. */
    GenerationResult generate(GenerationRequest request, Generator generator, DenoisingListener listener, ControlNetConditioning control);

    /** Image to image from {@code image} (1, 3, H, W) in [0, 1]. */
    GenerationResult imageToImage(GenerationRequest request, Tensor image, double strength, Generator generator, DenoisingListener listener);

    /** Inpainting of {@code image} (1, 3, H, W) in [0, 1] where {@code mask} (1, 1, H, W) is at least 0.5. */
    GenerationResult inpaint(GenerationRequest request, Tensor image, Tensor mask, double strength, Generator generator, DenoisingListener listener);

    Scheduler scheduler();

    AutoencoderKL vae();

    /** The weights a LoRA adapts, by component and state-dict key. */
    java.util.Map<String, java.util.Map<String, Tensor>> adaptableWeights();

    @Override
    void close();

    record Sd(StableDiffusionPipeline pipe) implements ModelPipeline {
        public GenerationResult generate(GenerationRequest request, Generator generator, DenoisingListener listener, ControlNetConditioning control) {
            return pipe.generate(request, generator, NoiseSource.of(generator), listener, control);
        }

        public GenerationResult imageToImage(GenerationRequest request, Tensor image, double strength, Generator generator, DenoisingListener listener) {
            return pipe.imageToImage(request, image, strength, generator, NoiseSource.of(generator), listener);
        }

        public GenerationResult inpaint(GenerationRequest request, Tensor image, Tensor mask, double strength, Generator generator, DenoisingListener listener) {
            NoiseSource noise = NoiseSource.of(generator);
            return pipe.inpaint(request, image, mask, strength, noise, noise, listener);
        }

        public Scheduler scheduler() {
            return pipe.scheduler();
        }

        public AutoencoderKL vae() {
            return pipe.vae();
        }

        public java.util.Map<String, java.util.Map<String, Tensor>> adaptableWeights() {
            return pipe.adaptableWeights();
        }

        public void close() {
            pipe.close();
        }
    }

    record Xl(StableDiffusionXLPipeline pipe) implements ModelPipeline {
        public GenerationResult generate(GenerationRequest request, Generator generator, DenoisingListener listener, ControlNetConditioning control) {
            if (control != null) throw new IllegalArgumentException("--controlnet: ControlNet is built for SD 1.x / 2.x only, not SDXL");
            return pipe.generate(request, generator, NoiseSource.of(generator), listener);
        }

        public GenerationResult imageToImage(GenerationRequest request, Tensor image, double strength, Generator generator, DenoisingListener listener) {
            throw new IllegalArgumentException("--image: image to image is built for SD 1.x / 2.x only, not SDXL");
        }

        public GenerationResult inpaint(GenerationRequest request, Tensor image, Tensor mask, double strength, Generator generator, DenoisingListener listener) {
            throw new IllegalArgumentException("--mask: inpainting is built for SD 1.x / 2.x only, not SDXL");
        }

        public Scheduler scheduler() {
            return pipe.scheduler();
        }

        public AutoencoderKL vae() {
            return pipe.vae();
        }

        public java.util.Map<String, java.util.Map<String, Tensor>> adaptableWeights() {
            return pipe.adaptableWeights();
        }

        public void close() {
            pipe.close();
        }
    }
}
