package org.panamasd.models.clip;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Functional;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.nn.LayerNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Checkpoints;
import org.panamasd.nn.WeightFormat;
import org.panamasd.nn.ParameterStore;
import org.panamasd.nn.Precision;
import org.panamasd.nn.Weights;

/**
 * The CLIP text transformer (transformers' CLIPTextModel, and CLIPTextModelWithProjection when the weights
 * have {@code text_projection}): token + position embeddings, causal pre-norm layers, final layer norm. The
 * pooled output is the end token's state: at argmax(input_ids) when eos_token_id is 2 (the legacy configs of
 * real SD 1.x / 2.x encoders), else at the first position of eos_token_id.
 */
public final class CLIPTextModel implements AutoCloseable {
    private static final String POSITION_IDS = "text_model.embeddings.position_ids";
    private final CLIPTextConfig config;
    private final ParameterStore parameters;
    private final Tensor tokenEmbedding, positionEmbedding;
    private final CLIPEncoderLayer[] layers;
    private final LayerNorm finalLayerNorm;
    private final Linear textProjection;

    /** last_hidden_state, pooler_output, text_embeds (null without projection), and every layer's state before the final norm. */
    public record Output(Tensor lastHiddenState, Tensor pooled, Tensor textEmbeds, List<Tensor> hiddenStates) {}

    private static final String DEFAULT_COMPONENT = "text_encoder";
    private volatile ModulePath.Name modulePath;  // the component's name in a pipeline: text_encoder or text_encoder_2

    private CLIPTextModel(CLIPTextConfig c, Weights w, ParameterStore parameters, boolean projection, String component) {
        this.modulePath = ModulePath.component(component);
        try (ModulePath.Entered loading = ModulePath.enter(modulePath)) {  // what loading allocates counts as the component's
            this.config = c;
            this.parameters = parameters;
            int d = c.hiddenSize();
            this.tokenEmbedding = w.get("text_model.embeddings.token_embedding.weight", c.vocabSize(), d);
            this.positionEmbedding = w.get("text_model.embeddings.position_embedding.weight", c.maxPositions(), d);
            this.layers = new CLIPEncoderLayer[c.layers()];
            for (int i = 0; i < layers.length; i++) layers[i] = new CLIPEncoderLayer(w, "text_model.encoder.layers." + i, c);
            this.finalLayerNorm = new LayerNorm(w, "text_model.final_layer_norm", d, c.layerNormEps());
            this.textProjection = projection ? new Linear(w, "text_projection", d, c.projectionDim(), false) : null;
        }
    }

    /** A transformers text_encoder directory: config.json and model.safetensors. */
    public static CLIPTextModel load(Path directory) {
        return load(directory, Device.CPU);
    }

    /** As {@link #load(Path)}, with the parameters on {@code device}. */
    public static CLIPTextModel load(Path directory, Device device) {
        return load(directory, device, DType.FLOAT32);
    }

    /** As {@link #load(Path)}, with the parameters on {@code device}, computing in {@code dtype} ({@link Precision}). */
    public static CLIPTextModel load(Path directory, Device device, DType dtype) {
        return load(directory, device, dtype, WeightFormat.DENSE);
    }

    /** As {@link #load(Path, Device, DType)}, with the linear weights kept in {@code format}. */
    public static CLIPTextModel load(Path directory, Device device, DType dtype, WeightFormat format) {
        Path weights = Checkpoints.weightsFile(directory, "model.safetensors");
        CLIPTextConfig c = CLIPTextConfig.from(DiffusersConfig.read(directory.resolve("config.json")));
        return Checkpoints.load(weights, device, dtype, format, state -> build(c, state, componentOf(directory)));
    }

    /** A pipeline directory's text_encoder or text_encoder_2, named by its folder (module paths); text_encoder otherwise. */
    private static String componentOf(Path directory) {
        Path name = directory.toAbsolutePath().normalize().getFileName();
        return name != null && name.toString().matches("text_encoder(_\\d+)?") ? name.toString() : DEFAULT_COMPONENT;
    }

    public static CLIPTextModel load(DiffusersConfig config, Path safetensors) {
        return load(config, safetensors, Device.CPU);
    }

    public static CLIPTextModel load(DiffusersConfig config, Path safetensors, Device device) {
        return load(config, safetensors, device, DType.FLOAT32);
    }

    public static CLIPTextModel load(DiffusersConfig config, Path safetensors, Device device, DType dtype) {
        CLIPTextConfig c = CLIPTextConfig.from(config);
        return Checkpoints.load(safetensors, device, dtype, state -> build(c, state, DEFAULT_COMPONENT));
    }

    /** A model over parameters already opened (a single-file checkpoint's component); the model owns {@code state} from here. */
    public static CLIPTextModel load(DiffusersConfig config, org.panamasd.nn.StateDict state) {
        return load(config, state, DEFAULT_COMPONENT);
    }

    /** As {@link #load(DiffusersConfig, org.panamasd.nn.StateDict)}, named {@code component} in module paths (text_encoder_2: SDXL's second). */
    public static CLIPTextModel load(DiffusersConfig config, org.panamasd.nn.StateDict state, String component) {
        try {
            return build(CLIPTextConfig.from(config), state, component);
        } catch (RuntimeException e) {
            state.close();
            throw e;
        }
    }

    private static CLIPTextModel build(CLIPTextConfig c, org.panamasd.nn.StateDict state, String component) {
        boolean projection = state.contains("text_projection.weight");
        CLIPTextModel model = new CLIPTextModel(c, state, state, projection, component);
        // some transformers checkpoints keep position_ids (an arange) as a buffer: take it, it is not needed
        if (state.contains(POSITION_IDS)) state.get(POSITION_IDS, state.shape(POSITION_IDS));
        return model;
    }

    /** A model with freshly initialised parameters (with a projection when {@code projection}). */
    public static CLIPTextModel initialize(DiffusersConfig config, boolean projection, long seed) {
        CLIPTextConfig c = CLIPTextConfig.from(config);
        return Checkpoints.initialize(seed, weights -> new CLIPTextModel(c, weights, weights, projection, DEFAULT_COMPONENT));
    }

    /** The parameters by state-dict key (what an optimizer trains and a checkpoint stores). */
    public java.util.Map<String, Tensor> parameters() {
        return parameters.parameters();
    }

    public CLIPTextConfig config() {
        return config;
    }

    /** The dtype the model computes in (its weights'); its outputs are float32. */
    public DType dtype() {
        return parameters.dtype();
    }

    /** Where the parameters are. */
    public Device device() {
        return parameters.device();
    }

    /** One row of token ids (1, S) on the model's device. */
    public Tensor ids(long[] ids) {
        return ids(ids, 1);
    }

    /** {@code rows} rows of token ids, given row after row, as (rows, S) on the model's device. */
    public Tensor ids(long[] ids, int rows) {
        Tensor batch = Tensor.of(ids, rows, ids.length / rows);
        return device().equals(Device.CPU) ? batch : batch.to(device());
    }

    /** Names this model in module paths as the pipeline's component {@code name} (default text_encoder); returns this. */
    public CLIPTextModel componentName(String name) {
        this.modulePath = ModulePath.component(name);
        return this;
    }

    /** input_ids (B, S) int64, S <= max_position_embeddings; every output float32, whatever the model computes in. */
    public Output forward(Tensor inputIds) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            long batch = inputIds.size(0), length = inputIds.size(1);
            if (length > config.maxPositions())
                throw new IllegalArgumentException("input_ids of length " + length + " exceed max_position_embeddings " + config.maxPositions());
            Tensor x = Functional.embedding(tokenEmbedding, inputIds).add(positionEmbedding.narrow(0, 0, length));
            List<Tensor> hidden = new ArrayList<>();
            hidden.add(x);
            for (CLIPEncoderLayer layer : layers) {
                x = layer.forward(x);
                hidden.add(x);
            }
            Tensor last = finalLayerNorm.forward(x);
            long[] ids = inputIds.toLongArray();
            Tensor[] pooledRows = new Tensor[(int) batch];
            for (int b = 0; b < batch; b++) pooledRows[b] = last.get(b).get(endPosition(ids, b, (int) length));
            Tensor pooled = Tensor.stack(0, pooledRows);
            Tensor projected = textProjection == null ? null : textProjection.forward(pooled);
            return new Output(Precision.cast(last, DType.FLOAT32), Precision.cast(pooled, DType.FLOAT32), Precision.cast(projected, DType.FLOAT32),
                    hidden.stream().map(h -> Precision.cast(h, DType.FLOAT32)).toList());
        }
    }

    private int endPosition(long[] ids, int row, int length) {
        int best = 0;
        for (int i = 0; i < length; i++) {
            long id = ids[row * length + i];
            if (config.eosTokenId() == 2) {
                if (id > ids[row * length + best]) best = i;  // argmax: the first occurrence of the largest id
            } else if (id == config.eosTokenId()) {
                return i;
            }
        }
        return best;
    }

    @Override
    public void close() {
        parameters.close();
    }
}
