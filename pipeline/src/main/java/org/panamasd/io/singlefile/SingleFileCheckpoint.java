package org.panamasd.io.singlefile;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.nn.StateDict;
import org.panamasd.models.ModelSpec;
import org.panamasd.models.ModelSpecs;
import org.panamasd.nn.WeightFormat;

/**
 * A Stable Diffusion 1.x / 2.x or SDXL model in one original-layout (CompVis / LDM) safetensors file, as the
 * checkpoints users download are: {@code model.diffusion_model.*} (the UNet), {@code first_stage_model.*} (the VAE),
 * and {@code cond_stage_model.transformer.*} (SD 1.x's CLIP text encoder under transformers' names),
 * {@code cond_stage_model.model.*} (SD 2.x's OpenCLIP one, {@link LdmKeys#openClip}) or SDXL's
 * {@code conditioner.embedders.0.transformer.*} and {@code conditioner.embedders.1.model.*} (CLIP and OpenCLIP). Each model is built from its diffusers config
 * and takes its parameters from the file under the LDM names ({@link LdmKeys}), mapped from the file without a
 * copy where the dtype is the compute dtype. What a training checkpoint carries besides ({@code model_ema.*},
 * the DDPM schedule buffers at the top level, {@code position_ids}) is ignored without being read; any other key
 * that no model took fails the load, naming the first of them, as does a file of another layout.
 */
public final class SingleFileCheckpoint {
    private SingleFileCheckpoint() {}

    /** The models of a single file (SDXL's second text encoder, or null). The caller owns them. */
    public record Models(CLIPTextModel textEncoder, CLIPTextModel textEncoder2, UNet2DConditionModel unet, AutoencoderKL vae) {}

    /** Keys a real checkpoint carries that no model takes: the DDPM schedule buffers at the top level. */
    private static final Set<String> SCHEDULE_BUFFERS = Set.of("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
            "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
            "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "model_ema.decay",
            "model_ema.num_updates");

    /**
     * The diffusers configs a single file is built from, and the token its tokenizer pads with where that is not
     * the tokenizer's own (SD 2.x pads with "!"; null: the tokenizer's).
     */
    public record Configs(DiffusersConfig textEncoder, DiffusersConfig textEncoder2, DiffusersConfig unet, DiffusersConfig vae, DiffusersConfig scheduler,
                          String tokenizerPad) {
        /** The same configs with the scheduler's prediction type replaced (what a file cannot tell: v-prediction or epsilon). */
        public Configs withPredictionType(String predictionType) {
            org.panamasd.schedulers.PredictionType.fromConfigName(predictionType);  // refuses an unknown name
            return new Configs(textEncoder, textEncoder2, unet, vae, scheduler.with("prediction_type", predictionType), tokenizerPad);
        }

        /** An SDXL model: two text encoders. */
        public boolean xl() {
            return textEncoder2 != null;
        }
    }

    /**
     * The configs of a file's architecture told from its keys and shapes, where the file cannot be anything
     * else: SD 1.x (a CLIP ViT-L text encoder under transformers' names, a 320-channel UNet with 768-wide
     * cross-attention) gets runwayml/stable-diffusion-v1-5's configs; SD 2.x (an OpenCLIP ViT-H text encoder, 1024-wide
     * cross-attention) stabilityai/stable-diffusion-2-1's, which predicts v (the file cannot tell; a 512-pixel base
     * model predicts epsilon); SDXL (CLIP ViT-L and OpenCLIP ViT-bigG, 2048-wide cross-attention) stable-diffusion-xl-base-1.0's.
     * Files of other sizes are refused, saying to give the configs.
     */
    public static Configs detect(SafeTensors st) {
        Path file = st.path();
        String convIn = LdmKeys.UNET + "input_blocks.0.0.weight";
        if (isXl(st)) {
            // SDXL's first level has no attention: its first cross-attention is input_blocks.4's
            String context = LdmKeys.UNET + "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight";
            String tokens = LdmKeys.SDXL_TEXT_ENCODER + "text_model.embeddings.token_embedding.weight", tokens2 = LdmKeys.SDXL_OPEN_CLIP + "token_embedding.weight";
            boolean known = width(st, convIn, 0) == 320 && width(st, context, 1) == 2048 && width(st, tokens, 1) == 768 && width(st, tokens2, 1) == 1280;
            if (!known)
                throw new IllegalArgumentException(file + ": an SDXL-layout checkpoint whose sizes are not SDXL base's (conv_in " + shape(st, convIn)
                        + ", cross-attention keys " + shape(st, context) + ", text embeddings " + shape(st, tokens) + " and " + shape(st, tokens2)
                        + "): give its diffusers configs (--config DIR)");
            ModelSpec xl = ModelSpecs.SDXL;
            return new Configs(DiffusersConfig.parse(xl.textEncoders().get(0)), DiffusersConfig.parse(xl.textEncoders().get(1)), xl.unetConfig(),
                    DiffusersConfig.parse(xl.vae()), DiffusersConfig.parse(xl.scheduler()), null);
        }
        String context = LdmKeys.UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";
        boolean openClip = st.keys().stream().anyMatch(k -> k.startsWith(LdmKeys.OPEN_CLIP));
        String tokens = openClip ? LdmKeys.OPEN_CLIP + "token_embedding.weight" : LdmKeys.TEXT_ENCODER + "text_model.embeddings.token_embedding.weight";
        int width = openClip ? 1024 : 768;
        boolean known = width(st, convIn, 0) == 320 && width(st, context, 1) == width && width(st, tokens, 1) == width;
        if (!known)
            throw new IllegalArgumentException(file + ": an original-layout checkpoint whose sizes are not SD " + (openClip ? "2.x" : "1.x") + "'s (conv_in "
                    + shape(st, convIn) + ", cross-attention keys " + shape(st, context) + ", text embeddings " + shape(st, tokens)
                    + "): give its diffusers configs (--config DIR)");
        if (openClip)
            return new Configs(DiffusersConfig.parse(StableDiffusion2Configs.TEXT_ENCODER), null, DiffusersConfig.parse(StableDiffusion2Configs.UNET),
                    DiffusersConfig.parse(StableDiffusion2Configs.VAE), DiffusersConfig.parse(StableDiffusion2Configs.SCHEDULER), "!");
        ModelSpec sd15 = ModelSpecs.SD15;
        return new Configs(DiffusersConfig.parse(sd15.textEncoders().getFirst()), null, sd15.unetConfig(), DiffusersConfig.parse(sd15.vae()),
                DiffusersConfig.parse(sd15.scheduler()), null);
    }

    /** An SDXL single file: its text encoders under {@code conditioner.embedders.*}. */
    public static boolean isXl(SafeTensors st) {
        return st.keys().stream().anyMatch(k -> k.startsWith("conditioner.embedders."));
    }

    /** Size {@code dim} of a 2-d or larger tensor, or -1 where the file has no such tensor. */
    private static long width(SafeTensors st, String key, int dim) {
        return st.contains(key) && st.entry(key).shape().length > dim ? st.entry(key).shape()[dim] : -1;
    }

    private static String shape(SafeTensors st, String key) {
        return st.contains(key) ? java.util.Arrays.toString(st.entry(key).shape()) : "missing";
    }

    /** The configs of a diffusers directory without weights (unet/, vae/, text_encoder/ and, for SDXL, text_encoder_2/ configs, scheduler/). */
    public static Configs read(Path configDir) {
        for (String part : new String[] {"unet/config.json", "vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json"})
            if (!java.nio.file.Files.exists(configDir.resolve(part)))
                throw new IllegalArgumentException(configDir + " has no " + part + ": the configs a single-file checkpoint is built from");
        Path second = configDir.resolve("text_encoder_2/config.json");
        return new Configs(DiffusersConfig.read(configDir.resolve("text_encoder/config.json")),
                java.nio.file.Files.exists(second) ? DiffusersConfig.read(second) : null, DiffusersConfig.read(configDir.resolve("unet/config.json")),
                DiffusersConfig.read(configDir.resolve("vae/config.json")), DiffusersConfig.read(configDir.resolve("scheduler/scheduler_config.json")), null);
    }

    /** Refuses a pickle checkpoint in one line, and a file that is not in the original layout naming what it holds. */
    public static SafeTensors open(Path file) {
        String name = file.getFileName().toString().toLowerCase();
        if (name.endsWith(".ckpt") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".bin"))
            throw new IllegalArgumentException(file + ": a pickle checkpoint, which can run code when it is read; panama-sd reads .safetensors "
                    + "(convert it once with the safetensors package)");
        SafeTensors st = SafeTensors.open(file);
        if (st.keys().stream().noneMatch(k -> k.startsWith(LdmKeys.UNET)))
            throw new IllegalArgumentException(file + ": not an original-layout Stable Diffusion checkpoint (no " + LdmKeys.UNET + "* keys); it starts "
                    + st.keys().stream().sorted().limit(5).toList());
        return st;
    }

    /**
     * @param unetConfig, vaeConfig, textEncoderConfig the models' diffusers configs (an SD 1.x / 2.x file)
     * @param ema         the UNet's EMA weights ({@code model_ema.*}) instead of its main ones
     */
    public static Models load(Path file, DiffusersConfig textEncoderConfig, DiffusersConfig unetConfig, DiffusersConfig vaeConfig, boolean ema,
                              Device device, DType dtype) {
        return load(file, new Configs(textEncoderConfig, null, unetConfig, vaeConfig, null, null), ema, device, dtype);
    }

    /**
     * The models of a file from their configs: SD 1.x's text encoder under transformers' names, SD 2.x's OpenCLIP
     * one, or SDXL's two ({@code conditioner.embedders.0.transformer.*}, transformers' names; {@code .1.model.*},
     * OpenCLIP with its projection); the UNet ({@code ema}: its EMA weights) and the VAE under the LDM names.
     */
    public static Models load(Path file, Configs configs, boolean ema, Device device, DType dtype) {
        return load(file, configs, ema, device, dtype, WeightFormat.DENSE);
    }

    /** As {@link #load(Path, Configs, boolean, Device, DType)}, with the text encoders' and UNet's linear and convolution weights in {@code format}. */
    public static Models load(Path file, Configs configs, boolean ema, Device device, DType dtype, WeightFormat format) {
        SafeTensors st = open(file);
        boolean xl = isXl(st);
        if (xl != configs.xl())
            throw new IllegalArgumentException(file + (xl ? " is an SDXL file (conditioner.embedders.*) but the configs have one text encoder"
                    : " is not an SDXL file, but the configs have a second text encoder (text_encoder_2)"));
        List<AutoCloseable> built = new java.util.ArrayList<>();
        try {
            boolean openClip = !xl && st.keys().stream().anyMatch(k -> k.startsWith(LdmKeys.OPEN_CLIP));
            StateDict textState = openClip ? StateDict.placed(st, device, dtype, LdmKeys.openClip(LdmKeys.OPEN_CLIP, false), format)
                    : new StateDict(st, device, dtype, LdmKeys.textEncoder(xl ? LdmKeys.SDXL_TEXT_ENCODER : LdmKeys.TEXT_ENCODER), format);
            CLIPTextModel text = keep(built, CLIPTextModel.load(configs.textEncoder(), textState));
            List<StateDict> states = new java.util.ArrayList<>(List.of(textState));
            java.util.function.Predicate<String> textUnused = openClip ? LdmKeys.openClipUnused(LdmKeys.OPEN_CLIP, text.config().layers()) : k -> false;
            CLIPTextModel text2 = null;
            if (xl) {
                StateDict state2 = StateDict.placed(st, device, dtype, LdmKeys.openClip(LdmKeys.SDXL_OPEN_CLIP, true), format);
                text2 = keep(built, CLIPTextModel.load(configs.textEncoder2(), state2, "text_encoder_2"));
                states.add(state2);
                textUnused = LdmKeys.openClipUnused(LdmKeys.SDXL_OPEN_CLIP, text2.config().layers());
            }
            StateDict unetState = new StateDict(st, device, dtype, ema ? LdmKeys.ema(LdmKeys.unet(configs.unet())) : LdmKeys.unet(configs.unet()), format);
            UNet2DConditionModel unet = keep(built, UNet2DConditionModel.load(configs.unet(), unetState));
            StateDict vaeState = new StateDict(st, device, dtype, LdmKeys.vae(configs.vae()));
            AutoencoderKL vae = keep(built, AutoencoderKL.load(configs.vae(), vaeState));
            states.add(unetState);
            states.add(vaeState);
            checkAllPlaced(st, states, ema, textUnused);
            return new Models(text, text2, unet, vae);
        } catch (RuntimeException e) {
            for (AutoCloseable m : built)
                try {
                    m.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            throw e;
        }
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> built, T model) {
        built.add(model);
        return model;
    }

    /** Every key of the file went to a model or is one a checkpoint carries beside them; else the first few that found no place. */
    private static void checkAllPlaced(SafeTensors st, List<StateDict> states, boolean ema, java.util.function.Predicate<String> textUnused) {
        Set<String> unplaced = new TreeSet<>(st.keys());
        for (StateDict s : states) unplaced.removeAll(s.usedFileKeys());
        unplaced.removeIf(k -> SCHEDULE_BUFFERS.contains(k) || k.endsWith("position_ids") || (k.startsWith("model_ema.") && !ema)
                || (ema && k.startsWith(LdmKeys.UNET)) || textUnused.test(k));
        if (!unplaced.isEmpty())
            throw new IllegalArgumentException(st.path() + ": " + unplaced.size() + " tensor(s) found no place in the models (a config that does not match "
                    + "the file, or a layout not built here), e.g. " + unplaced.stream().limit(5).toList());
    }
}
