package org.panamasd.models.vae;

import java.util.List;
import java.util.Set;
import org.panamasd.io.DiffusersConfig;

/** The fields of diffusers' AutoencoderKL config, with its defaults. */
public record VaeConfig(int inChannels, int outChannels, int latentChannels, int[] blockOutChannels, int layersPerBlock,
                        int normNumGroups, double scalingFactor, Double shiftFactor, int sampleSize) {

    static final Set<String> FIELDS = Set.of("act_fn", "block_out_channels", "down_block_types", "up_block_types", "force_upcast",
            "in_channels", "out_channels", "latent_channels", "latents_mean", "latents_std", "layers_per_block", "norm_num_groups",
            "sample_size", "scaling_factor", "shift_factor", "use_quant_conv", "use_post_quant_conv", "mid_block_add_attention");

    /** Image pixels per latent along each side: 2^(blocks - 1). */
    public int downscale() {
        return 1 << (blockOutChannels.length - 1);
    }

    public static VaeConfig from(DiffusersConfig c) {
        c.warnUnknown("AutoencoderKL", FIELDS);
        if (!c.string("act_fn", "silu").equals("silu")) throw c.invalid("act_fn", c.string("act_fn", ""), "silu");
        int[] channels = c.length("block_out_channels") > 0 ? c.integers("block_out_channels", c.length("block_out_channels"), 0) : new int[] {64};
        for (String type : c.strings("down_block_types", List.of("DownEncoderBlock2D")))
            if (!type.equals("DownEncoderBlock2D")) throw c.invalid("down_block_types", type, "DownEncoderBlock2D");
        for (String type : c.strings("up_block_types", List.of("UpDecoderBlock2D")))
            if (!type.equals("UpDecoderBlock2D")) throw c.invalid("up_block_types", type, "UpDecoderBlock2D");
        if (c.length("down_block_types") >= 0 && c.length("down_block_types") != channels.length)
            throw c.invalid("down_block_types", c.length("down_block_types") + " entries", channels.length + " (block_out_channels)");
        for (String off : List.of("use_quant_conv", "use_post_quant_conv", "mid_block_add_attention"))
            if (!c.bool(off, true)) throw c.invalid(off, false, "true (not built here)");
        return new VaeConfig(c.integer("in_channels", 3), c.integer("out_channels", 3), c.integer("latent_channels", 4), channels,
                c.integer("layers_per_block", 1), c.integer("norm_num_groups", 32), c.number("scaling_factor", 0.18215),
                c.optionalNumber("shift_factor"), c.integer("sample_size", 32));
    }
}
