package org.panamasd.models.clip;

import org.panamasd.io.DiffusersConfig;

/** The fields of transformers' CLIPTextConfig the text encoder uses, with its defaults. */
public record CLIPTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int layers, int heads, int maxPositions,
                             String hiddenAct, double layerNormEps, int eosTokenId, int projectionDim) {

    public static CLIPTextConfig from(DiffusersConfig c) {
        String act = c.string("hidden_act", "quick_gelu");
        if (!act.equals("quick_gelu") && !act.equals("gelu")) throw c.invalid("hidden_act", act, "quick_gelu or gelu");
        CLIPTextConfig config = new CLIPTextConfig(c.integer("vocab_size", 49408), c.integer("hidden_size", 512), c.integer("intermediate_size", 2048),
                c.integer("num_hidden_layers", 12), c.integer("num_attention_heads", 8), c.integer("max_position_embeddings", 77), act,
                c.number("layer_norm_eps", 1e-5), c.integer("eos_token_id", 2), c.integer("projection_dim", 512));
        if (config.hiddenSize % config.heads != 0)
            throw c.invalid("num_attention_heads", config.heads, "a divisor of hidden_size " + config.hiddenSize);
        return config;
    }
}
