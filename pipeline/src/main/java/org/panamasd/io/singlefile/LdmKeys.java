package org.panamasd.io.singlefile;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.panamasd.io.DiffusersConfig;

/**
 * Where the original (CompVis / LDM) layout keeps each parameter of the diffusers models, as diffusers'
 * {@code convert_ldm_unet_checkpoint} / {@code convert_ldm_vae_checkpoint} read it (the reverse of its
 * {@code convert_diffusers_to_original_stable_diffusion.py}), for any number of levels and layers per block:
 * the model asks for its diffusers key, the file answers under the LDM one.
 */
public final class LdmKeys {
    private LdmKeys() {}

    public static final String UNET = "model.diffusion_model.", VAE = "first_stage_model.", TEXT_ENCODER = "cond_stage_model.transformer.";
    /** SD 2.x's OpenCLIP ViT-H text encoder. */
    public static final String OPEN_CLIP = "cond_stage_model.model.";
    /** SDXL's text encoders: CLIP ViT-L under transformers' names, OpenCLIP ViT-bigG. */
    public static final String SDXL_TEXT_ENCODER = "conditioner.embedders.0.transformer.", SDXL_OPEN_CLIP = "conditioner.embedders.1.model.";

    private static final Map<String, String> RESNET = Map.of("norm1", "in_layers.0", "conv1", "in_layers.2", "time_emb_proj", "emb_layers.1",
            "norm2", "out_layers.0", "conv2", "out_layers.3", "conv_shortcut", "skip_connection");
    private static final Map<String, String> VAE_ATTENTION = Map.of("group_norm", "norm", "to_q", "q", "to_k", "k", "to_v", "v", "to_out.0", "proj_out");
    private static final Pattern BLOCK = Pattern.compile("(down_blocks|up_blocks)\\.(\\d+)\\.(resnets|attentions|downsamplers|upsamplers)\\.(\\d+)\\.(.+)");
    private static final Pattern MID = Pattern.compile("mid_block\\.(resnets|attentions)\\.(\\d+)\\.(.+)");

    /** The UNet's key map for its config: k = layers_per_block + 1 entries per level on both sides. */
    public static java.util.function.UnaryOperator<String> unet(DiffusersConfig config) {
        org.panamasd.models.unet.UNetConfig c = org.panamasd.models.unet.UNetConfig.from(config);
        int k = c.layersPerBlock() + 1;
        List<String> up = c.upBlockTypes();
        return key -> UNET + unetKey(key, k, up);
    }

    static String unetKey(String key, int k, List<String> upBlockTypes) {
        for (String[] top : new String[][] {{"time_embedding.linear_1.", "time_embed.0."}, {"time_embedding.linear_2.", "time_embed.2."},
                {"add_embedding.linear_1.", "label_emb.0.0."}, {"add_embedding.linear_2.", "label_emb.0.2."}, {"conv_in.", "input_blocks.0.0."},
                {"conv_norm_out.", "out.0."}, {"conv_out.", "out.2."}})
            if (key.startsWith(top[0])) return top[1] + key.substring(top[0].length());
        Matcher m = BLOCK.matcher(key);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(2)), j = Integer.parseInt(m.group(4));
            String part = m.group(3), rest = m.group(5);
            if (m.group(1).equals("down_blocks")) return switch (part) {
                case "resnets" -> "input_blocks." + (k * i + j + 1) + ".0." + resnet(rest);
                case "attentions" -> "input_blocks." + (k * i + j + 1) + ".1." + rest;
                default -> "input_blocks." + (k * (i + 1)) + ".0.op." + rest.substring("conv.".length());
            };
            return switch (part) {
                case "resnets" -> "output_blocks." + (k * i + j) + ".0." + resnet(rest);
                case "attentions" -> "output_blocks." + (k * i + j) + ".1." + rest;
                // the upsampler follows the block's last resnet, and its attention where the block has them
                default -> "output_blocks." + (k * i + k - 1) + "." + (upBlockTypes.get(i).contains("CrossAttn") ? 2 : 1) + "." + rest;
            };
        }
        Matcher mid = MID.matcher(key);
        if (mid.matches()) {
            int index = mid.group(1).equals("attentions") ? 1 : 2 * Integer.parseInt(mid.group(2));
            return "middle_block." + index + "." + (mid.group(1).equals("resnets") ? resnet(mid.group(3)) : mid.group(3));
        }
        return key;  // nothing else is renamed; a key of no known place fails as missing, naming both names
    }

    private static String resnet(String rest) {
        int dot = rest.indexOf('.');
        String layer = RESNET.get(rest.substring(0, dot));
        return (layer == null ? rest.substring(0, dot) : layer) + rest.substring(dot);
    }

    /** The VAE's key map for its config: the decoder's levels are numbered in reverse in the LDM layout. */
    public static java.util.function.UnaryOperator<String> vae(DiffusersConfig config) {
        int levels = config.length("block_out_channels");
        return key -> VAE + vaeKey(key, levels);
    }

    static String vaeKey(String key, int levels) {
        String side = key.startsWith("encoder.") ? "encoder." : key.startsWith("decoder.") ? "decoder." : "";
        String rest = key.substring(side.length());
        Matcher m = BLOCK.matcher(rest);
        if (!side.isEmpty() && m.matches()) {
            int i = Integer.parseInt(m.group(2)), j = Integer.parseInt(m.group(4));
            int level = side.equals("decoder.") ? levels - 1 - i : i;
            String tail = m.group(5);
            String place = switch (m.group(3)) {
                case "resnets" -> (side.equals("decoder.") ? "up." : "down.") + level + ".block." + j + "." + vaeResnet(tail);
                case "downsamplers" -> "down." + level + ".downsample." + tail;
                default -> "up." + level + ".upsample." + tail;
            };
            return side + place;
        }
        Matcher mid = MID.matcher(rest);
        if (!side.isEmpty() && mid.matches()) {
            if (mid.group(1).equals("resnets")) return side + "mid.block_" + (Integer.parseInt(mid.group(2)) + 1) + "." + vaeResnet(mid.group(3));
            String tail = mid.group(3);
            for (var e : VAE_ATTENTION.entrySet())
                if (tail.startsWith(e.getKey() + ".")) return side + "mid.attn_1." + e.getValue() + tail.substring(e.getKey().length());
        }
        if (rest.startsWith("conv_norm_out.")) return side + "norm_out." + rest.substring("conv_norm_out.".length());
        return key;
    }

    private static String vaeResnet(String rest) {
        return rest.startsWith("conv_shortcut.") ? "nin_shortcut." + rest.substring("conv_shortcut.".length()) : rest;
    }

    /** A CLIP text encoder: transformers' own names behind {@code prefix} (SD 1.x's {@link #TEXT_ENCODER}, SDXL's first). */
    public static java.util.function.UnaryOperator<String> textEncoder(String prefix) {
        return key -> prefix + key;
    }

    private static final Pattern OPEN_CLIP_LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\.(.+)");
    private static final Map<String, String> OPEN_CLIP_LAYER_PARTS = Map.of("self_attn.out_proj.", "attn.out_proj.", "layer_norm1.", "ln_1.",
            "layer_norm2.", "ln_2.", "mlp.fc1.", "mlp.c_fc.", "mlp.fc2.", "mlp.c_proj.");
    private static final List<String> QKV = List.of("q_proj", "k_proj", "v_proj");

    /**
     * An OpenCLIP text transformer under {@code prefix} (SD 2.x's {@code cond_stage_model.model.}), read as
     * transformers' CLIPTextModel(WithProjection), as diffusers' {@code convert_open_clip_checkpoint} does: q, k and
     * v are the three chunks of each layer's {@code attn.in_proj_weight} / {@code in_proj_bias}; {@code ln_1},
     * {@code ln_2}, {@code mlp.c_fc}, {@code mlp.c_proj}, {@code ln_final} are the layer norms and MLP;
     * {@code positional_embedding} is the position embedding; {@code text_projection} (width, projection) is the
     * transpose of the Linear weight, taken only by a model {@code withProjection} (SDXL's second text encoder;
     * SD 2.x's is a CLIPTextModel without one, which must not find it).
     */
    public static java.util.function.Function<String, org.panamasd.nn.StateDict.Place> openClip(String prefix, boolean withProjection) {
        return key -> {
            switch (key) {
                case "text_model.embeddings.token_embedding.weight": return place(prefix + "token_embedding.weight");
                case "text_model.embeddings.position_embedding.weight": return place(prefix + "positional_embedding");
                case "text_projection.weight":
                    return withProjection ? new org.panamasd.nn.StateDict.Place(prefix + "text_projection", 0, 1, true) : place(prefix + "no text_projection");
                default: break;
            }
            if (key.startsWith("text_model.final_layer_norm.")) return place(prefix + "ln_final." + key.substring("text_model.final_layer_norm.".length()));
            Matcher m = OPEN_CLIP_LAYER.matcher(key);
            if (m.matches()) {
                String layer = prefix + "transformer.resblocks." + m.group(1) + ".", rest = m.group(2);
                for (int i = 0; i < QKV.size(); i++)
                    if (rest.startsWith("self_attn." + QKV.get(i) + "."))
                        return new org.panamasd.nn.StateDict.Place(layer + "attn.in_proj_" + rest.substring(rest.lastIndexOf('.') + 1), i, 3, false);
                for (var part : OPEN_CLIP_LAYER_PARTS.entrySet())
                    if (rest.startsWith(part.getKey())) return place(layer + part.getValue() + rest.substring(part.getKey().length()));
            }
            return place(prefix + key);  // no known place: fails as missing, naming both names
        };
    }

    /**
     * The keys an OpenCLIP text transformer's file carries that the diffusers model does not take: its layers from
     * {@code layers} on (SD 2.x uses the penultimate layer's output, so its config has one layer less), the logit
     * scale, the attention mask buffer, and the projection of a model without one.
     */
    public static java.util.function.Predicate<String> openClipUnused(String prefix, int layers) {
        Pattern layer = Pattern.compile(Pattern.quote(prefix) + "transformer\\.resblocks\\.(\\d+)\\..+");
        return key -> {
            if (!key.startsWith(prefix)) return false;
            Matcher m = layer.matcher(key);
            if (m.matches()) return Integer.parseInt(m.group(1)) >= layers;
            String rest = key.substring(prefix.length());
            return rest.equals("logit_scale") || rest.equals("attn_mask") || rest.equals("text_projection");
        };
    }

    private static org.panamasd.nn.StateDict.Place place(String key) {
        return org.panamasd.nn.StateDict.Place.of(key);
    }

    /** Where an EMA copy of the UNet keeps a key: "model_ema." + the key after "model." with its dots removed. */
    public static java.util.function.UnaryOperator<String> ema(java.util.function.UnaryOperator<String> unet) {
        return key -> "model_ema." + unet.apply(key).substring("model.".length()).replace(".", "");
    }
}
