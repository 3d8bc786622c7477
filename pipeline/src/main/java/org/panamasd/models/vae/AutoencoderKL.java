package org.panamasd.models.vae;

import static org.panamasd.models.Intermediates.put;

import java.nio.file.Path;
import java.util.Map;
import org.panamasd.nn.Chain;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.Intermediates;
import org.panamasd.nn.Checkpoints;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.ParameterStore;
import org.panamasd.nn.Precision;
import org.panamasd.nn.Weights;

/**
 * The KL autoencoder of latent diffusion (Rombach et al. 2022): images in [-1, 1] to a diagonal Gaussian over
 * latents at 1/2^(N-1) resolution and back, with diffusers' structure and state-dict keys. Pipelines scale
 * latents by {@code scaling_factor} (minus {@code shift_factor} when the config has one).
 */
public final class AutoencoderKL implements AutoCloseable {
    private final VaeConfig config;
    private final ParameterStore parameters;
    private final Encoder encoder;
    private final Decoder decoder;
    private final Conv2d quantConv, postQuantConv;
    private Intermediates record;
    private VaeTiling tiling;

    private final ModulePath.Name modulePath;

    private AutoencoderKL(VaeConfig c, Weights w, ParameterStore parameters) {
        this.modulePath = ModulePath.component("vae");
        try (ModulePath.Entered loading = ModulePath.enter(modulePath)) {  // what loading allocates counts as the component's
            this.config = c;
            this.parameters = parameters;
            this.encoder = new Encoder(w, "encoder", c);
            this.decoder = new Decoder(w, "decoder", c);
            int latent = c.latentChannels();
            this.quantConv = new Conv2d(w, "quant_conv", 2L * latent, 2L * latent, 1, 1, 0);
            this.postQuantConv = new Conv2d(w, "post_quant_conv", latent, latent, 1, 1, 0);
            this.tiling = VaeTiling.forConfig(c, VaeTiling.Mode.AUTO);
        }
    }

    /** How decode and encode go by tiles; {@link VaeTiling.Mode#AUTO} with tiles of the config's sample_size unless set. */
    public AutoencoderKL tiling(VaeTiling tiling) {
        this.tiling = tiling;
        return this;
    }

    public VaeTiling tiling() {
        return tiling;
    }

    /** A diffusers vae directory: config.json and diffusion_pytorch_model.safetensors. */
    public static AutoencoderKL load(Path directory) {
        return load(directory, Device.CPU);
    }

    /** As {@link #load(Path)}, with the parameters on {@code device}. */
    public static AutoencoderKL load(Path directory, Device device) {
        return load(directory, device, DType.FLOAT32);
    }

    /** As {@link #load(Path)}, with the parameters on {@code device}, computing in {@code dtype} ({@link Precision}). */
    public static AutoencoderKL load(Path directory, Device device, DType dtype) {
        Path weights = Checkpoints.weightsFile(directory, "diffusion_pytorch_model.safetensors");
        return load(DiffusersConfig.read(directory.resolve("config.json")), weights, device, dtype);
    }

    public static AutoencoderKL load(DiffusersConfig config, Path safetensors) {
        return load(config, safetensors, Device.CPU);
    }

    public static AutoencoderKL load(DiffusersConfig config, Path safetensors, Device device) {
        return load(config, safetensors, device, DType.FLOAT32);
    }

    public static AutoencoderKL load(DiffusersConfig config, Path safetensors, Device device, DType dtype) {
        VaeConfig c = VaeConfig.from(config);
        return Checkpoints.load(safetensors, device, dtype, state -> new AutoencoderKL(c, state, state));
    }

    /** A model over parameters already opened (a single-file checkpoint's component); the model owns {@code state} from here. */
    public static AutoencoderKL load(DiffusersConfig config, org.panamasd.nn.StateDict state) {
        try {
            return new AutoencoderKL(VaeConfig.from(config), state, state);
        } catch (RuntimeException e) {
            state.close();
            throw e;
        }
    }

    public static AutoencoderKL initialize(DiffusersConfig config, long seed) {
        VaeConfig c = VaeConfig.from(config);
        return Checkpoints.initialize(seed, weights -> new AutoencoderKL(c, weights, weights));
    }

    /** The parameters by state-dict key (what an optimizer trains and a checkpoint stores). */
    public java.util.Map<String, Tensor> parameters() {
        return parameters.parameters();
    }

    public VaeConfig config() {
        return config;
    }

    /** The dtype the model computes in (its weights'); encode and decode take and return their caller's. */
    public DType dtype() {
        return parameters.dtype();
    }

    /** Where the parameters are; images and latents must be there too. */
    public Device device() {
        return parameters.device();
    }

    /** Records block outputs (encoder.conv_in, quant_conv, decoder.up_blocks.0, ...) into the map, or stops with null. */
    public void recordIntermediates(Map<String, Tensor> sink) {
        this.record = Intermediates.into(sink);
    }

    /** image (B, C, H, W) in [-1, 1] -> q(z | x); by tiles when {@link #tiling()} says so (never while recording). */
    public LatentDistribution encode(Tensor image) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            Tensor moments = record == null && tiling.tilesImage(image) ? tiling.encode(image, this::moments) : moments(image);
            return LatentDistribution.fromMoments(moments);
        }
    }

    /** The encoder's moments in the image's dtype, computed in the model's. */
    private Tensor moments(Tensor image) {
        return Scope.returning(() -> Precision.cast(put(record, "quant_conv", quantConv.forward(encoder.forward(Precision.cast(image, dtype()), record))),
                image.dtype()));
    }

    /** latents (B, L, h, w), unscaled -> image (B, C, H, W), about [-1, 1]; by tiles when {@link #tiling()} says so (never while recording). */
    public Tensor decode(Tensor latents) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return record == null && tiling.tilesLatents(latents) ? tiling.decode(latents, this::decodeWhole) : decodeWhole(latents);
        }
    }

    /** The image in the latents' dtype, computed in the model's. */
    private Tensor decodeWhole(Tensor latents) {
        return Chain.from(latents).then(t -> Precision.cast(t, dtype())).then(t -> put(record, "post_quant_conv", postQuantConv.forward(t)))
                .then(z -> decoder.forward(z, record)).then(t -> Precision.cast(t, latents.dtype())).get();
    }

    /** Latents as the diffusion model sees them: (z - shift) * scaling_factor. */
    public Tensor scaleLatents(Tensor z) {
        Tensor shifted = config.shiftFactor() == null ? z : z.sub(config.shiftFactor());
        return shifted.mul(config.scalingFactor());
    }

    /** The inverse of {@link #scaleLatents}. */
    public Tensor unscaleLatents(Tensor scaled) {
        Tensor z = scaled.div(config.scalingFactor());
        return config.shiftFactor() == null ? z : z.add(config.shiftFactor());
    }

    @Override
    public void close() {
        parameters.close();
    }
}
