package org.panamasd.models.unet;

import java.util.List;
import java.util.Set;
import org.panamasd.io.DiffusersConfig;

/**
 * The fields of diffusers' UNet2DConditionModel config that the SD 1.x, 2.x and XL UNets use, with the
 * reference's defaults and its legacy naming: when num_attention_heads is unset, attention_head_dim is the
 * number of heads. Options this model does not build fail naming the field.
 */
public record UNetConfig(int inChannels, int outChannels, int[] blockOutChannels, List<String> downBlockTypes, List<String> upBlockTypes,
                         int layersPerBlock, int normNumGroups, double normEps, int crossAttentionDim, int[] numAttentionHeads,
                         int[] transformerLayersPerBlock, boolean useLinearProjection, boolean upcastAttention, boolean flipSinToCos,
                         double freqShift, int downsamplePadding, double midBlockScaleFactor, String additionEmbedType,
                         int additionTimeEmbedDim, int projectionClassEmbeddingsInputDim, int convInKernel, int convOutKernel) {

    static final Set<String> FIELDS = Set.of("act_fn", "addition_embed_type", "addition_embed_type_num_heads", "addition_time_embed_dim",
            "attention_head_dim", "attention_type", "block_out_channels", "center_input_sample", "class_embed_type",
            "class_embeddings_concat", "conv_in_kernel", "conv_out_kernel", "cross_attention_dim", "cross_attention_norm",
            "down_block_types", "downsample_padding", "dropout", "dual_cross_attention", "encoder_hid_dim", "encoder_hid_dim_type",
            "flip_sin_to_cos", "freq_shift", "in_channels", "layers_per_block", "mid_block_only_cross_attention", "mid_block_scale_factor",
            "mid_block_type", "norm_eps", "norm_num_groups", "num_attention_heads", "num_class_embeds", "only_cross_attention",
            "out_channels", "projection_class_embeddings_input_dim", "resnet_out_scale_factor", "resnet_skip_time_act",
            "resnet_time_scale_shift", "reverse_transformer_layers_per_block", "sample_size", "time_cond_proj_dim",
            "time_embedding_act_fn", "time_embedding_dim", "time_embedding_type", "timestep_post_act", "transformer_layers_per_block",
            "up_block_types", "upcast_attention", "use_linear_projection");

    public static UNetConfig from(DiffusersConfig c) {
        c.warnUnknown("UNet2DConditionModel", FIELDS);
        requireDefault(c, "act_fn", "silu");
        requireDefault(c, "time_embedding_type", "positional");
        requireDefault(c, "resnet_time_scale_shift", "default");
        requireDefault(c, "attention_type", "default");
        requireDefault(c, "mid_block_type", "UNetMidBlock2DCrossAttn");
        for (String absent : List.of("class_embed_type", "num_class_embeds", "encoder_hid_dim", "encoder_hid_dim_type", "time_cond_proj_dim",
                "time_embedding_dim", "time_embedding_act_fn", "timestep_post_act", "cross_attention_norm"))
            if (c.has(absent)) throw c.invalid(absent, "set", "unset (not built here)");
        for (String off : List.of("center_input_sample", "dual_cross_attention", "only_cross_attention", "resnet_skip_time_act", "class_embeddings_concat"))
            if (c.bool(off, false)) throw c.invalid(off, true, "false (not built here)");
        if (c.number("resnet_out_scale_factor", 1.0) != 1.0) throw c.invalid("resnet_out_scale_factor", c.number("resnet_out_scale_factor", 1), "1.0");

        List<String> down = c.strings("down_block_types", List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"));
        List<String> up = c.strings("up_block_types", List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"));
        int blocks = down.size();
        if (up.size() != blocks) throw c.invalid("up_block_types", up, blocks + " entries like down_block_types");
        int[] channels = c.length("block_out_channels") > 0 ? c.integers("block_out_channels", c.length("block_out_channels"), 0) : new int[] {320, 640, 1280, 1280};
        if (channels.length != blocks) throw c.invalid("block_out_channels", java.util.Arrays.toString(channels), blocks + " entries");
        // legacy naming: attention_head_dim holds the head count when num_attention_heads is unset
        String headsField = c.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
        int[] heads = c.integers(headsField, blocks, 8);
        String addition = c.string("addition_embed_type", null);
        if (addition != null && !addition.equals("text_time")) throw c.invalid("addition_embed_type", addition, "null or text_time");
        if (c.has("reverse_transformer_layers_per_block")) throw c.invalid("reverse_transformer_layers_per_block", "set", "unset");
        return new UNetConfig(c.integer("in_channels", 4), c.integer("out_channels", 4), channels, down, up, c.integer("layers_per_block", 2),
                c.integer("norm_num_groups", 32), c.number("norm_eps", 1e-5), c.integer("cross_attention_dim", 1280), heads,
                c.integers("transformer_layers_per_block", blocks, 1), c.bool("use_linear_projection", false), c.bool("upcast_attention", false),
                c.bool("flip_sin_to_cos", true), c.number("freq_shift", 0), c.integer("downsample_padding", 1), c.number("mid_block_scale_factor", 1),
                addition, c.integer("addition_time_embed_dim", 0), c.integer("projection_class_embeddings_input_dim", 0),
                c.integer("conv_in_kernel", 3), c.integer("conv_out_kernel", 3));
    }

    private static void requireDefault(DiffusersConfig c, String field, String expected) {
        String value = c.string(field, expected);
        if (!value.equals(expected)) throw c.invalid(field, value, expected + " (the only value built here)");
    }

    public int timeEmbedDim() {
        return blockOutChannels[0] * 4;
    }
}
