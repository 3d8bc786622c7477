package org.panamasd.models.unet;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
import org.panamasd.nn.WeightFormat;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.ParameterStore;
import org.panamasd.nn.Precision;
import org.panamasd.nn.Weights;

/**
 * The conditional UNet of Stable Diffusion 1.x, 2.x and XL, with diffusers' structure and state-dict keys:
 * conv_in, time_proj + time_embedding (+ SDXL's add_time_proj + add_embedding of text_embeds and time_ids),
 * down_blocks, mid_block, up_blocks with skip connections, conv_norm_out, SiLU, conv_out.
 */
public final class UNet2DConditionModel implements AutoCloseable {
    private final UNetConfig config;
    private final ParameterStore parameters;
    private final Conv2d convIn, convOut;
    private final Timesteps timeProj;
    private final TimestepEmbedding timeEmbedding;
    private final Timesteps addTimeProj;
    private final TimestepEmbedding addEmbedding;
    private final DownBlock2D[] downBlocks;
    private final UNetMidBlock2DCrossAttn midBlock;
    private final UpBlock2D[] upBlocks;
    private final GroupNorm convNormOut;
    private Intermediates debug;

    private final ModulePath.Name modulePath;

    private UNet2DConditionModel(UNetConfig c, Weights w, ParameterStore parameters) {
        this.modulePath = ModulePath.component("unet");
        try (ModulePath.Entered loading = ModulePath.enter(modulePath)) {  // what loading allocates counts as the component's
            this.config = c;
            this.parameters = parameters;
            int[] channels = c.blockOutChannels();
            int blocks = channels.length;
            this.convIn = new Conv2d(w, "conv_in", c.inChannels(), channels[0], c.convInKernel(), 1, (c.convInKernel() - 1) / 2);
            this.timeProj = new Timesteps(channels[0], c.flipSinToCos(), c.freqShift());
            this.timeEmbedding = new TimestepEmbedding(w, "time_embedding", channels[0], c.timeEmbedDim());
            if ("text_time".equals(c.additionEmbedType())) {
                this.addTimeProj = new Timesteps(c.additionTimeEmbedDim(), c.flipSinToCos(), c.freqShift());
                this.addEmbedding = new TimestepEmbedding(w, "add_embedding", c.projectionClassEmbeddingsInputDim(), c.timeEmbedDim());
            } else {
                this.addTimeProj = null;
                this.addEmbedding = null;
            }
            this.downBlocks = new DownBlock2D[blocks];
            for (int i = 0; i < blocks; i++) downBlocks[i] = DownBlock2D.of(w, c, i);
            this.midBlock = new UNetMidBlock2DCrossAttn(w, "mid_block", c);
            this.upBlocks = new UpBlock2D[blocks];
            int previous = channels[blocks - 1];
            for (int i = 0; i < blocks; i++) {
                String type = c.upBlockTypes().get(i);
                if (!type.equals("CrossAttnUpBlock2D") && !type.equals("UpBlock2D"))
                    throw new IllegalArgumentException("up_block_types[" + i + "] " + type + " is not built here (CrossAttnUpBlock2D, UpBlock2D)");
                int out = channels[blocks - 1 - i];
                int skipIn = channels[Math.max(blocks - 2 - i, 0)];
                upBlocks[i] = new UpBlock2D(w, "up_blocks." + i, c, i, previous, out, skipIn, type.equals("CrossAttnUpBlock2D"), i == blocks - 1);
                previous = out;
            }
            this.convNormOut = new GroupNorm(w, "conv_norm_out", c.normNumGroups(), channels[0], c.normEps());
            this.convOut = new Conv2d(w, "conv_out", channels[0], c.outChannels(), c.convOutKernel(), 1, (c.convOutKernel() - 1) / 2);
        }
    }

    /** A diffusers unet directory: config.json and diffusion_pytorch_model.safetensors. */
    public static UNet2DConditionModel load(Path directory) {
        return load(directory, Device.CPU);
    }

    /** As {@link #load(Path)}, with the parameters on {@code device}. */
    public static UNet2DConditionModel load(Path directory, Device device) {
        return load(directory, device, DType.FLOAT32);
    }

    /** As {@link #load(Path)}, with the parameters on {@code device}, computing in {@code dtype} ({@link org.panamasd.nn.Precision}). */
    public static UNet2DConditionModel load(Path directory, Device device, DType dtype) {
        return load(directory, device, dtype, WeightFormat.DENSE);
    }

    /** As {@link #load(Path, Device, DType)}, with the linear and convolution weights kept in {@code format}. */
    public static UNet2DConditionModel load(Path directory, Device device, DType dtype, WeightFormat format) {
        Path weights = Checkpoints.weightsFile(directory, "diffusion_pytorch_model.safetensors");
        UNetConfig c = UNetConfig.from(DiffusersConfig.read(directory.resolve("config.json")));
        return Checkpoints.load(weights, device, dtype, format, state -> new UNet2DConditionModel(c, state, state));
    }

    public static UNet2DConditionModel load(DiffusersConfig config, Path safetensors) {
        return load(config, safetensors, Device.CPU);
    }

    public static UNet2DConditionModel load(DiffusersConfig config, Path safetensors, Device device) {
        return load(config, safetensors, device, DType.FLOAT32);
    }

    public static UNet2DConditionModel load(DiffusersConfig config, Path safetensors, Device device, DType dtype) {
        UNetConfig c = UNetConfig.from(config);
        return Checkpoints.load(safetensors, device, dtype, state -> new UNet2DConditionModel(c, state, state));
    }

    /**
     * A model over parameters already opened, e.g. one component of a single-file checkpoint (which checks
     * afterwards that every tensor of the file found a place); the model owns {@code state} from here.
     */
    public static UNet2DConditionModel load(DiffusersConfig config, org.panamasd.nn.StateDict state) {
        try {
            return new UNet2DConditionModel(UNetConfig.from(config), state, state);
        } catch (RuntimeException e) {
            state.close();
            throw e;
        }
    }

    /** A model with freshly initialised parameters (training from scratch, benchmarks). */
    public static UNet2DConditionModel initialize(DiffusersConfig config, long seed) {
        UNetConfig c = UNetConfig.from(config);
        return Checkpoints.initialize(seed, weights -> new UNet2DConditionModel(c, weights, weights));
    }

    public UNetConfig config() {
        return config;
    }

    /** Where the parameters are; inputs must be there too. */
    public Device device() {
        return parameters.device();
    }

    /** The dtype the model computes in (its weights'); it takes and returns its caller's. */
    public DType dtype() {
        return parameters.dtype();
    }

    /** The parameters by state-dict key (what an optimizer trains and a checkpoint stores). */
    public java.util.Map<String, Tensor> parameters() {
        return parameters.parameters();
    }

    /** Records block outputs into the given map (diffusers' names: conv_in, time_proj, down_blocks.0, ...) on the next calls. */
    public void recordIntermediates(Map<String, Tensor> sink) {
        this.debug = Intermediates.into(sink);
    }

    /** The noise prediction with one timestep for the whole batch. */
    public Tensor forward(Tensor sample, double timestep, Tensor context) {
        return Scope.returning(() -> forward(sample, timesteps(timestep, sample), context, null, null));
    }

    /** One timestep for each row of {@code sample}, on its device (float32, as the reference casts it). */
    public static Tensor timesteps(double timestep, Tensor sample) {
        return Tensor.full(timestep, DType.FLOAT32, sample.device(), sample.size(0));
    }

    /**
     * sample (B, in, H, W), timesteps (B,), context (B, S, cross_attention_dim); for SDXL text_embeds (B, D)
     * and time_ids (B, 6), else null. Returns (B, out, H, W) in the current scope, in sample's dtype; inputs are
     * cast to the model's {@link #dtype()} on the way in.
     */
    public Tensor forward(Tensor sample, Tensor timesteps, Tensor context, Tensor textEmbeds, Tensor timeIds) {
        return forward(sample, timesteps, context, textEmbeds, timeIds, null);
    }

    /**
     * What a ControlNet adds (diffusers' down_block_additional_residuals and mid_block_additional_residual): one
     * residual per skip tensor of the down path (conv_in's output first), and one for the mid block's output.
     */
    public record Residuals(List<Tensor> down, Tensor mid) {}

    /** As {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor)}, with a ControlNet's residuals added (null: none). */
    public Tensor forward(Tensor sample, Tensor timesteps, Tensor context, Tensor textEmbeds, Tensor timeIds, Residuals residuals) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            // its own scope: what the step keeps is the noise prediction, not the pass's intermediates
            return Scope.returning(() -> forwardPass(sample, timesteps, context, textEmbeds, timeIds, residuals));
        }
    }

    private Tensor forwardPass(Tensor input, Tensor timesteps, Tensor encoderStates, Tensor pooled, Tensor timeIds, Residuals residuals) {
        long batch = input.size(0);
        if (!timesteps.device().equals(input.device())) timesteps = timesteps.to(input.device());  // as the reference moves them
        if (timesteps.dim() == 0 || timesteps.numel() == 1) timesteps = timesteps.reshape(1).expand(batch);
        DType dtype = dtype();
        Tensor sample = Precision.cast(input, dtype), context = Precision.cast(encoderStates, dtype), textEmbeds = Precision.cast(pooled, dtype);
        // the sinusoidal embedding is made in float32 and cast to the model's dtype, as diffusers' t_emb.to(dtype=sample.dtype)
        Tensor projected = Precision.cast(record("time_proj", timeProj.forward(timesteps)), dtype);
        Tensor emb = record("time_embedding", timeEmbedding.forward(projected));
        if (addEmbedding != null) {
            if (textEmbeds == null || timeIds == null) throw new IllegalArgumentException("an SDXL UNet (text_time) needs text_embeds and time_ids");
            // each of the 6 time ids (sizes and crop) gets its own sinusoidal embedding: (B * 6, dim) -> (B, 6 * dim)
            Tensor perId = record("add_time_proj", addTimeProj.forward(timeIds.flatten(0, -1)));
            Tensor addEmbeds = Tensor.cat(-1, textEmbeds, perId.reshape(batch, -1).to(textEmbeds.dtype()));
            emb = emb.add(record("add_embedding", addEmbedding.forward(addEmbeds)));
        }
        // every down block output is a skip connection that an up block reads later: they stay until the end
        Tensor x = record("conv_in", convIn.forward(sample));
        List<Tensor> skips = new ArrayList<>();
        skips.add(x);
        for (int i = 0; i < downBlocks.length; i++) x = record("down_blocks." + i, downBlocks[i].forward(x, emb, context, skips));
        if (residuals != null) {
            if (residuals.down().size() != skips.size())
                throw new IllegalArgumentException(residuals.down().size() + " down residuals for the UNet's " + skips.size() + " skip connections");
            for (int k = 0; k < skips.size(); k++) skips.set(k, skips.get(k).add(residuals.down().get(k).to(dtype)));
        }
        Tensor temb = emb;
        Chain up = Chain.from(x).then(t -> record("mid_block", midBlock.forward(t, temb, context)));
        if (residuals != null) up.then(t -> t.add(residuals.mid().to(dtype)));
        for (int i = 0; i < upBlocks.length; i++) {
            UpBlock2D block = upBlocks[i];
            long[] upsampleTo = null;
            if (i < upBlocks.length - 1) {
                Tensor nextSkip = skips.get(skips.size() - 1 - block.resnetCount());
                upsampleTo = new long[] {nextSkip.size(2), nextSkip.size(3)};
            }
            long[] size = upsampleTo;
            String name = "up_blocks." + i;
            up.then(t -> record(name, block.forward(t, temb, context, skips, size)));
        }
        up.then(t -> record("conv_norm_out", convNormOut.forward(t)));
        return up.then(t -> record("conv_out", convOut.forward(t.silu()))).then(t -> Precision.cast(t, input.dtype())).get();
    }

    private Tensor record(String name, Tensor value) {
        return Intermediates.put(debug, name, value);
    }

    /** Frees the parameters (and lets the weights file's mapping go). */
    @Override
    public void close() {
        parameters.close();
    }
}
