package org.panamasd.models.controlnet;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.unet.DownBlock2D;
import org.panamasd.models.unet.TimestepEmbedding;
import org.panamasd.models.unet.Timesteps;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.unet.UNetConfig;
import org.panamasd.models.unet.UNetMidBlock2DCrossAttn;
import org.panamasd.nn.Checkpoints;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.ParameterStore;
import org.panamasd.nn.Precision;
import org.panamasd.nn.Weights;

/**
 * ControlNet (Zhang et al. 2023), with diffusers' ControlNetModel structure and state-dict keys: a copy of the
 * UNet's encoder (conv_in, time embedding, down blocks, mid block; its own weights) whose input is the noisy
 * latents plus the embedded conditioning image ({@code controlnet_cond_embedding}), and a zero-initialised 1x1
 * conv on every tensor the down path keeps for a skip connection ({@code controlnet_down_blocks.k}, conv_in's
 * output included) and on the mid block's output ({@code controlnet_mid_block}). Those residuals, scaled by the
 * conditioning scale, are what the UNet adds to its skips and its mid-block output
 * ({@link UNet2DConditionModel.Residuals}).
 */
public final class ControlNetModel implements AutoCloseable {
    private final UNetConfig config;
    private final ParameterStore parameters;
    private final Conv2d convIn;
    private final Timesteps timeProj;
    private final TimestepEmbedding timeEmbedding;
    private final ControlNetConditioningEmbedding conditioning;
    private final DownBlock2D[] downBlocks;
    private final UNetMidBlock2DCrossAttn midBlock;
    private final Conv2d[] controlnetDownBlocks;
    private final Conv2d controlnetMidBlock;
    private final int conditioningChannels;

    private final ModulePath.Name modulePath;

    private ControlNetModel(UNetConfig c, DiffusersConfig raw, Weights w, ParameterStore parameters) {
        this.modulePath = ModulePath.component("controlnet");
        try (ModulePath.Entered loading = ModulePath.enter(modulePath)) {  // what loading allocates counts as the component's
            this.config = c;
            this.parameters = parameters;
            int[] channels = c.blockOutChannels();
            int blocks = channels.length;
            this.convIn = new Conv2d(w, "conv_in", c.inChannels(), channels[0], c.convInKernel(), 1, (c.convInKernel() - 1) / 2);
            this.timeProj = new Timesteps(channels[0], c.flipSinToCos(), c.freqShift());
            this.timeEmbedding = new TimestepEmbedding(w, "time_embedding", channels[0], c.timeEmbedDim());
            this.conditioningChannels = raw.integer("conditioning_channels", 3);
            int[] embedding = raw.has("conditioning_embedding_out_channels")
                    ? raw.integers("conditioning_embedding_out_channels", raw.length("conditioning_embedding_out_channels"), 0) : new int[] {16, 32, 96, 256};
            this.conditioning = new ControlNetConditioningEmbedding(w, "controlnet_cond_embedding", conditioningChannels, embedding, channels[0]);
            this.downBlocks = new DownBlock2D[blocks];
            List<Conv2d> zeroConvs = new ArrayList<>();
            zeroConvs.add(new Conv2d(w, "controlnet_down_blocks.0", channels[0], channels[0], 1, 1, 0));  // conv_in's output
            for (int i = 0; i < blocks; i++) {
                downBlocks[i] = DownBlock2D.of(w, c, i);
                int skips = c.layersPerBlock() + (i == blocks - 1 ? 0 : 1);  // each layer's output, and the downsampler's
                for (int j = 0; j < skips; j++)
                    zeroConvs.add(new Conv2d(w, "controlnet_down_blocks." + zeroConvs.size(), channels[i], channels[i], 1, 1, 0));
            }
            this.controlnetDownBlocks = zeroConvs.toArray(Conv2d[]::new);
            this.midBlock = new UNetMidBlock2DCrossAttn(w, "mid_block", c);
            this.controlnetMidBlock = new Conv2d(w, "controlnet_mid_block", channels[blocks - 1], channels[blocks - 1], 1, 1, 0);
        }
    }

    /** A diffusers controlnet directory: config.json and diffusion_pytorch_model.safetensors. */
    public static ControlNetModel load(Path directory) {
        return load(directory, Device.CPU, DType.FLOAT32);
    }

    public static ControlNetModel load(Path directory, Device device, DType dtype) {
        if (!java.nio.file.Files.isRegularFile(directory.resolve("config.json")))
            throw new IllegalArgumentException(directory + " is not a diffusers ControlNet directory (no config.json)");
        DiffusersConfig raw = DiffusersConfig.read(directory.resolve("config.json"));
        if (!"rgb".equals(raw.string("controlnet_conditioning_channel_order", "rgb")))
            throw raw.invalid("controlnet_conditioning_channel_order", raw.string("controlnet_conditioning_channel_order", ""), "rgb (bgr is not built here)");
        if (raw.bool("global_pool_conditions", false)) throw raw.invalid("global_pool_conditions", true, "false (not built here)");
        UNetConfig c = UNetConfig.from(raw.with("up_block_types", mirrored(raw)));  // a ControlNet has no up path; its config names none
        Path weights = Checkpoints.weightsFile(directory, "diffusion_pytorch_model.safetensors");
        return Checkpoints.load(weights, device, dtype, state -> new ControlNetModel(c, raw, state, state));
    }

    /** A ControlNet with freshly initialised parameters (tests; training one starts from a UNet's weights). */
    public static ControlNetModel initialize(DiffusersConfig raw, long seed) {
        UNetConfig c = UNetConfig.from(raw.with("up_block_types", mirrored(raw)));
        return Checkpoints.initialize(seed, weights -> new ControlNetModel(c, raw, weights, weights));
    }

    /** The parameters by state-dict key. */
    public java.util.Map<String, Tensor> parameters() {
        return parameters.parameters();
    }

    private static List<String> mirrored(DiffusersConfig raw) {
        List<String> down = raw.strings("down_block_types", List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"));
        return down.reversed().stream().map(t -> t.replace("Down", "Up")).toList();
    }

    /** The conditioning image (B, C, H, W) embedded to the UNet's first feature map (B, block_out_channels[0], h, w). */
    public Tensor conditioningEmbedding(Tensor conditioningImage) {
        return Scope.returning(() -> conditioning.forward(Precision.cast(conditioningImage, dtype())));
    }

    /** The channels of the conditioning image (3: RGB). */
    public int conditioningChannels() {
        return conditioningChannels;
    }

    public DType dtype() {
        return parameters.dtype();
    }

    /**
     * The residuals for one UNet call: sample (B, 4, h, w), timesteps (B,), context (B, S, d), the conditioning
     * image (B, C, H, W) in [0, 1] (not normalised), each residual multiplied by {@code scale}. In the current
     * scope, in the sample's dtype.
     */
    public UNet2DConditionModel.Residuals forward(Tensor sample, Tensor timesteps, Tensor context, Tensor conditioningImage, double scale) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            long batch = sample.size(0);
            if (conditioningImage.size(0) != batch)
                throw new IllegalArgumentException("the conditioning image's batch is " + conditioningImage.size(0) + ", the sample's " + batch);
            List<Tensor> down = new ArrayList<>();
            Tensor mid;
            try (Scope pass = Scope.open()) {
                if (!timesteps.device().equals(sample.device())) timesteps = timesteps.to(sample.device());
                if (timesteps.dim() == 0 || timesteps.numel() == 1) timesteps = timesteps.reshape(1).expand(batch);
                DType dtype = dtype();
                Tensor x0 = Precision.cast(sample, dtype), ctx = Precision.cast(context, dtype), cond = Precision.cast(conditioningImage, dtype);
                Tensor emb = timeEmbedding.forward(Precision.cast(timeProj.forward(timesteps), dtype));
                Tensor x = convIn.forward(x0).add(conditioning.forward(cond));
                List<Tensor> skips = new ArrayList<>();
                skips.add(x);
                for (DownBlock2D block : downBlocks) x = block.forward(x, emb, ctx, skips);
                x = midBlock.forward(x, emb, ctx);
                if (skips.size() != controlnetDownBlocks.length)
                    throw new IllegalStateException("the down path kept " + skips.size() + " skips for " + controlnetDownBlocks.length + " zero convs");
                for (int k = 0; k < skips.size(); k++)
                    down.add(Precision.cast(controlnetDownBlocks[k].forward(skips.get(k)).mul(scale), sample.dtype()).moveToParent());
                mid = Precision.cast(controlnetMidBlock.forward(x).mul(scale), sample.dtype()).moveToParent();
            }
            return new UNet2DConditionModel.Residuals(down, mid);
        }
    }

    @Override
    public void close() {
        parameters.close();
    }
}
