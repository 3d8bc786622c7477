package org.panamasd.models.dinov2;

import org.panamasd.io.DiffusersConfig;

/** The fields of transformers' Dinov2Config the backbone uses, with its defaults. */
public record Dinov2Config(int hiddenSize, int layers, int heads, int mlpRatio, int imageSize, int patchSize, int channels,
                           boolean qkvBias, double layerNormEps) {

    public static Dinov2Config from(DiffusersConfig c) {
        if (c.bool("use_swiglu_ffn", false)) throw c.invalid("use_swiglu_ffn", true, "false (the SwiGLU variant is not built here)");
        String act = c.string("hidden_act", "gelu");
        if (!act.equals("gelu")) throw c.invalid("hidden_act", act, "gelu");
        Dinov2Config config = new Dinov2Config(c.integer("hidden_size", 768), c.integer("num_hidden_layers", 12), c.integer("num_attention_heads", 12),
                c.integer("mlp_ratio", 4), c.integer("image_size", 224), c.integer("patch_size", 14), c.integer("num_channels", 3),
                c.bool("qkv_bias", true), c.number("layer_norm_eps", 1e-6));
        if (config.hiddenSize % config.heads != 0) throw c.invalid("num_attention_heads", config.heads, "a divisor of hidden_size");
        return config;
    }
}
