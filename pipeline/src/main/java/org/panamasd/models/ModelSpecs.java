package org.panamasd.models;

import java.util.List;

/**
 * The benchmark models: the configs of runwayml/stable-diffusion-v1-5 and stabilityai/stable-diffusion-xl-base-1.0
 * (field names and values as those repositories ship them, the null fields included), and two tiny ones of the
 * same layouts for tests and smoke runs.
 */
public final class ModelSpecs {
    private ModelSpecs() {}

    public static final String SD15_UNET = """
            {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu", "attention_head_dim": 8,
             "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false, "cross_attention_dim": 768,
             "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
             "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
             "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}""";

    public static final String SD15_VAE = """
            {"_class_name": "AutoencoderKL", "_diffusers_version": "0.6.0", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
             "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
             "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3, "sample_size": 512,
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}""";

    /** openai/clip-vit-large-patch14's text model: SD 1.x's text encoder and SDXL's first. */
    public static final String CLIP_L = """
            {"_name_or_path": "openai/clip-vit-large-patch14", "architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0,
             "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768, "initializer_factor": 1.0,
             "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
             "model_type": "clip_text_model", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768,
             "torch_dtype": "float32", "transformers_version": "4.22.0.dev0", "vocab_size": 49408}""";

    public static final String SD15_SCHEDULER = """
            {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
             "trained_betas": null, "clip_sample": false}""";

    public static final String SDXL_UNET = """
            {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.19.0.dev0", "act_fn": "silu", "addition_embed_type": "text_time",
             "addition_embed_type_num_heads": 64, "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20],
             "block_out_channels": [320, 640, 1280], "center_input_sample": false, "class_embed_type": null, "class_embeddings_concat": false,
             "conv_in_kernel": 3, "conv_out_kernel": 3, "cross_attention_dim": 2048, "cross_attention_norm": null,
             "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"], "downsample_padding": 1,
             "dual_cross_attention": false, "encoder_hid_dim": null, "encoder_hid_dim_type": null, "flip_sin_to_cos": true, "freq_shift": 0,
             "in_channels": 4, "layers_per_block": 2, "mid_block_only_cross_attention": null, "mid_block_scale_factor": 1,
             "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32, "num_attention_heads": null,
             "num_class_embeds": null, "only_cross_attention": false, "out_channels": 4, "projection_class_embeddings_input_dim": 2816,
             "resnet_out_scale_factor": 1.0, "resnet_skip_time_act": false, "resnet_time_scale_shift": "default", "sample_size": 128,
             "time_cond_proj_dim": null, "time_embedding_act_fn": null, "time_embedding_dim": null, "time_embedding_type": "positional",
             "timestep_post_act": null, "transformer_layers_per_block": [1, 2, 10],
             "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "upcast_attention": null,
             "use_linear_projection": true}""";

    public static final String SDXL_VAE = """
            {"_class_name": "AutoencoderKL", "_diffusers_version": "0.20.0.dev0", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
             "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
             "force_upcast": true, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
             "sample_size": 1024, "scaling_factor": 0.13025,
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}""";

    /** laion/CLIP-ViT-bigG-14's text model with projection: SDXL's text_encoder_2. */
    public static final String CLIP_BIG_G = """
            {"architectures": ["CLIPTextModelWithProjection"], "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2,
             "hidden_act": "gelu", "hidden_size": 1280, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 5120,
             "layer_norm_eps": 1e-05, "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 20,
             "num_hidden_layers": 32, "pad_token_id": 1, "projection_dim": 1280, "torch_dtype": "float16", "transformers_version": "4.32.0.dev0",
             "vocab_size": 49408}""";

    public static final String SDXL_SCHEDULER = """
            {"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "beta_start": 0.00085, "clip_sample": false, "interpolation_type": "linear", "num_train_timesteps": 1000,
             "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
             "timestep_spacing": "leading", "trained_betas": null, "use_karras_sigmas": false}""";

    public static final ModelSpec SD15 = new ModelSpec("sd15", false, SD15_UNET, SD15_VAE, List.of(CLIP_L), SD15_SCHEDULER);
    public static final ModelSpec SDXL = new ModelSpec("sdxl", true, SDXL_UNET, SDXL_VAE, List.of(CLIP_L, CLIP_BIG_G), SDXL_SCHEDULER);

    private static final String TINY_VAE = """
            {"block_out_channels": [32, 32], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 8}""";
    private static final String TINY_CLIP = """
            {"architectures": ["CLIPTextModel"], "hidden_act": "quick_gelu", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
             "num_hidden_layers": 2, "projection_dim": 32, "vocab_size": 49408, "max_position_embeddings": 77}""";

    /** SD 1.x's layout at toy size (conv projections, heads per block), PNDM as SD 1.5 ships it. */
    public static final ModelSpec TINY = new ModelSpec("tiny", false, """
            {"block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "layers_per_block": 1, "attention_head_dim": 4,
             "cross_attention_dim": 32, "norm_num_groups": 8}""", TINY_VAE, List.of(TINY_CLIP), SD15_SCHEDULER);

    /** SDXL's layout at toy size: linear projections, text_time embeddings, two text encoders side by side. */
    public static final ModelSpec TINY_XL = new ModelSpec("tiny-xl", true, """
            {"block_out_channels": [32, 64], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "attention_head_dim": [2, 4],
             "transformer_layers_per_block": [1, 2], "cross_attention_dim": 64, "norm_num_groups": 8, "use_linear_projection": true,
             "addition_embed_type": "text_time", "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 80}""",
            TINY_VAE, List.of(TINY_CLIP, """
            {"architectures": ["CLIPTextModelWithProjection"], "hidden_act": "gelu", "hidden_size": 32, "intermediate_size": 64,
             "num_attention_heads": 4, "num_hidden_layers": 2, "projection_dim": 32, "vocab_size": 49408, "max_position_embeddings": 77}"""),
            SDXL_SCHEDULER);

    /** A built-in model by name (sd15, sdxl, tiny, tiny-xl), or null. */
    public static ModelSpec named(String name) {
        return switch (name) {
            case "sd15" -> SD15;
            case "sdxl" -> SDXL;
            case "tiny" -> TINY;
            case "tiny-xl" -> TINY_XL;
            default -> null;
        };
    }
}
