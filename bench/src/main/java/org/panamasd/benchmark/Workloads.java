package org.panamasd.benchmark;

import org.panamasd.models.ModelSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.models.vae.VaeTiling;

/**
 * The parts bench-model measures, each loading only its own component of a diffusers directory, with the
 * loader the pipelines use, computing in the settings' dtype: a UNet step, a VAE decode, the text encoding of the
 * prompts. Inputs are float32, as a pipeline gives them.
 */
public final class Workloads {
    private Workloads() {}

    /** What a part's input description adds for a model not in float32 (the weights' dtype, as loaded). */
    private static String computing(DType dtype) {
        return dtype == DType.FLOAT32 ? "" : ", in " + dtype.name().toLowerCase();
    }

    /** A component's model and the inputs made for it, freed together. */
    private abstract static class Loaded implements Workload {
        final Scope inputs = Scope.detached();
        final Generator generator = new Generator(0);
        private final AutoCloseable[] models;

        Loaded(AutoCloseable... models) {
            this.models = models;
        }

        /** Random N(0, 1) input, kept for the part's lifetime. */
        Tensor input(long... shape) {
            try (Scope s = Scope.open()) {
                return Tensor.randn(generator, shape).moveTo(inputs);
            }
        }

        @Override
        public void close() {
            inputs.close();
            generator.close();
            for (AutoCloseable m : models) {
                try {
                    m.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing " + m, e);
                }
            }
        }
    }

    /** One UNet forward on {@code batch} latents, with a 77-token context (and SDXL's pooled embedding and size ids). */
    public static Workload unet(Path dir, BenchSettings s) {
        UNet2DConditionModel unet = UNet2DConditionModel.load(dir.resolve("unet"), org.panamasd.Device.CPU, s.dtype(), s.weights());
        var c = unet.config();
        long b = s.batch(), n = s.latent();
        boolean xl = "text_time".equals(c.additionEmbedType());
        return new Loaded(unet) {
            final Tensor latents = input(b, c.inChannels(), n, n), context = input(b, 77, c.crossAttentionDim());
            final Tensor textEmbeds = xl ? input(b, c.projectionClassEmbeddingsInputDim() - 6L * c.additionTimeEmbedDim()) : null;
            final Tensor timeIds = xl ? timeIds(b, n * 8) : null;
            final Tensor timesteps = timesteps(b);

            Tensor timeIds(long rows, long pixels) {
                try (Scope scope = Scope.open()) {
                    double[] ids = new double[(int) rows * 6];
                    for (int r = 0; r < rows; r++) System.arraycopy(new double[] {pixels, pixels, 0, 0, pixels, pixels}, 0, ids, r * 6, 6);
                    return Tensor.of(ids, rows, 6).to(DType.FLOAT32).moveTo(inputs);
                }
            }

            Tensor timesteps(long rows) {
                try (Scope scope = Scope.open()) {
                    return Tensor.full(500, DType.FLOAT32, org.panamasd.Device.CPU, rows).moveTo(inputs);
                }
            }

            @Override
            public String input() {
                return "latents " + b + "x" + c.inChannels() + "x" + n + "x" + n + ", context " + b + "x77x" + c.crossAttentionDim()
                        + (xl ? ", text_embeds and time_ids" : "") + computing(unet.dtype());
            }

            @Override
            public Flops flops() {
                return FlopCounter.unet(c, b, n, n, 77);
            }

            @Override
            public void call() {
                unet.forward(latents, timesteps, context, textEmbeds, timeIds);
            }
        };
    }

    /** AutoencoderKL.decode of {@code vaeBatch} latents into images 8x their size. */
    public static Workload vae(Path dir, BenchSettings s) {
        AutoencoderKL vae = AutoencoderKL.load(dir.resolve("vae"), org.panamasd.Device.CPU, s.dtype());
        var c = vae.config();
        vae.tiling(VaeTiling.forConfig(c, s.vaeTiling(), s.vaeTile()));
        long b = s.vaeBatch(), n = s.latent(), scale = c.downscale();
        return new Loaded(vae) {
            final Tensor latents = input(b, c.latentChannels(), n, n);

            @Override
            public String input() {
                return "latents " + b + "x" + c.latentChannels() + "x" + n + "x" + n + " -> images " + b + "x" + c.outChannels() + "x" + n * scale + "x" + n * scale
                        + (vae.tiling().tilesLatents(latents) ? ", by tiles of " + vae.tiling().imageTile() + " px" : "")
                        + computing(vae.dtype());
            }

            @Override
            public Flops flops() {
                return FlopCounter.vaeDecode(c, b, n, n);
            }

            @Override
            public void call() {
                vae.decode(latents);
            }
        };
    }

    /** Tokenizing and encoding {@code batch} prompts (a guided pair: empty and a prompt) with every text encoder of the directory. */
    public static Workload clip(Path dir, BenchSettings s) {
        List<CLIPTokenizer> tokenizers = new ArrayList<>();
        List<CLIPTextModel> encoders = new ArrayList<>();
        for (int i = 0; Files.isDirectory(dir.resolve(ModelSpec.textEncoderDirectory(i))); i++) {
            tokenizers.add(CLIPTokenizer.load(dir.resolve(ModelSpec.tokenizerDirectory(i))));
            encoders.add(CLIPTextModel.load(dir.resolve(ModelSpec.textEncoderDirectory(i)), org.panamasd.Device.CPU, s.dtype(), s.weights()));
        }
        String[] prompts = new String[s.batch()];
        for (int i = 0; i < prompts.length; i++) prompts[i] = i % 2 == 0 ? "" : "a photo of an astronaut riding a horse on mars";
        return new Loaded(encoders.toArray(AutoCloseable[]::new)) {
            @Override
            public String input() {
                return s.batch() + " prompts x 77 tokens, " + encoders.size() + " text encoder(s)" + computing(encoders.getFirst().dtype());
            }

            @Override
            public Flops flops() {
                Flops f = Flops.ZERO;
                for (CLIPTextModel e : encoders) f = f.plus(FlopCounter.clipText(e.config(), s.batch(), 77, e.parameters().containsKey("text_projection.weight")));
                return f;
            }

            @Override
            public void call() {
                for (int i = 0; i < encoders.size(); i++)
                    encoders.get(i).forward(encoders.get(i).ids(tokenizers.get(i).inputIds(prompts, 77), prompts.length));
            }
        };
    }
}
