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
import org.panamasd.benchmark.ModelSpec;
import org.panamasd.benchmark.ModelSpecs;

/**
 * A Stable Diffusion 1.x / 2.x model in one original-layout (CompVis / LDM) safetensors file, as the checkpoints
 * users download are: {@code model.diffusion_model.*} (the UNet), {@code first_stage_model.*} (the VAE), and
 * {@code cond_stage_model.transformer.*} (SD 1.x's CLIP text encoder under transformers' names) or
 * {@code cond_stage_model.model.*} (SD 2.x's OpenCLIP one, {@link LdmKeys#openClip}). Each model is built from its diffusers config
 * and takes its parameters from the file under the LDM names ({@link LdmKeys}), mapped from the file without a
 * copy where the dtype is the compute dtype. What a training checkpoint carries besides ({@code model_ema.*},
 * the DDPM schedule buffers at the top level, {@code position_ids}) is ignored without being read; any other key
 * that no model took fails the load, naming the first of them, as does a file of another layout.
 */
public final class SingleFileCheckpoint {
    private SingleFileCheckpoint() {}

    /** The three models of a single file. The caller owns them. */
    public record Models(CLIPTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae) {}

    /** Keys a real checkpoint carries that no model takes: the DDPM schedule buffers at the top level. */
    private static final Set<String> SCHEDULE_BUFFERS = Set.of("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
            "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
            "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "model_ema.decay",
            "model_ema.num_updates");

    /**
     * The diffusers configs a single file is built from, and the token its tokenizer pads with where that is not
     * the tokenizer's own (SD 2.x pads with "!"; null: the tokenizer's).
     */
    public record Configs(DiffusersConfig textEncoder, DiffusersConfig unet, DiffusersConfig vae, DiffusersConfig scheduler, String tokenizerPad) {
        /** The same configs with the scheduler's prediction type replaced (what a file cannot tell: v-prediction or epsilon). */
        public Configs withPredictionType(String predictionType) {
            org.panamasd.schedulers.PredictionType.fromConfigName(predictionType);  // refuses an unknown name
            return new Configs(textEncoder, unet, vae, scheduler.with("prediction_type", predictionType), tokenizerPad);
        }
    }

    /**
     * The configs of a file's architecture told from its keys and shapes, where the file cannot be anything
     * else: SD 1.x (a CLIP ViT-L text encoder under transformers' names, a 320-channel UNet with 768-wide
     * cross-attention) gets runwayml/stable-diffusion-v1-5's configs; SD 2.x (an OpenCLIP ViT-H text encoder, 1024-wide
     * cross-attention) stabilityai/stable-diffusion-2-1's, which predicts v (the file cannot tell; a 512-pixel base
     * model predicts epsilon). SDXL files and files of other sizes are refused, saying to give the configs.
     */
    public static Configs detect(SafeTensors st) {
        Path file = st.path();
        if (st.keys().stream().anyMatch(k -> k.startsWith("conditioner.embedders.")))
            throw new IllegalArgumentException(file + ": an SDXL single file (conditioner.embedders.*), which is not built yet: use a diffusers directory");
        String convIn = LdmKeys.UNET + "input_blocks.0.0.weight", context = LdmKeys.UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";
        boolean openClip = st.keys().stream().anyMatch(k -> k.startsWith(LdmKeys.OPEN_CLIP));
        String tokens = openClip ? LdmKeys.OPEN_CLIP + "token_embedding.weight" : LdmKeys.TEXT_ENCODER + "text_model.embeddings.token_embedding.weight";
        int width = openClip ? 1024 : 768;
        boolean known = st.contains(convIn) && st.entry(convIn).shape()[0] == 320 && st.contains(context) && st.entry(context).shape()[1] == width
                && st.contains(tokens) && st.entry(tokens).shape()[1] == width;
        if (!known)
            throw new IllegalArgumentException(file + ": an original-layout checkpoint whose sizes are not SD " + (openClip ? "2.x" : "1.x") + "'s (conv_in "
                    + shape(st, convIn) + ", cross-attention keys " + shape(st, context) + ", text embeddings " + shape(st, tokens)
                    + "): give its diffusers configs (--config DIR)");
        if (openClip)
            return new Configs(DiffusersConfig.parse(StableDiffusion2Configs.TEXT_ENCODER), DiffusersConfig.parse(StableDiffusion2Configs.UNET),
                    DiffusersConfig.parse(StableDiffusion2Configs.VAE), DiffusersConfig.parse(StableDiffusion2Configs.SCHEDULER), "!");
        ModelSpec sd15 = ModelSpecs.SD15;
        return new Configs(DiffusersConfig.parse(sd15.textEncoders().getFirst()), sd15.unetConfig(), DiffusersConfig.parse(sd15.vae()),
                DiffusersConfig.parse(sd15.scheduler()), null);
    }

    private static String shape(SafeTensors st, String key) {
        return st.contains(key) ? java.util.Arrays.toString(st.entry(key).shape()) : "missing";
    }

    /** The configs of a diffusers directory without weights (unet/, vae/, text_encoder/ configs and scheduler/). */
    public static Configs read(Path configDir) {
        for (String part : new String[] {"unet/config.json", "vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json"})
            if (!java.nio.file.Files.exists(configDir.resolve(part)))
                throw new IllegalArgumentException(configDir + " has no " + part + ": the configs a single-file checkpoint is built from");
        return new Configs(DiffusersConfig.read(configDir.resolve("text_encoder/config.json")), DiffusersConfig.read(configDir.resolve("unet/config.json")),
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
     * @param unetConfig, vaeConfig, textEncoderConfig the models' diffusers configs
     * @param ema         the UNet's EMA weights ({@code model_ema.*}) instead of its main ones
     */
    public static Models load(Path file, DiffusersConfig textEncoderConfig, DiffusersConfig unetConfig, DiffusersConfig vaeConfig, boolean ema,
                              Device device, DType dtype) {
        SafeTensors st = open(file);
        CLIPTextModel text = null;
        UNet2DConditionModel unet = null;
        AutoencoderKL vae = null;
        try {
            boolean openClip = st.keys().stream().anyMatch(k -> k.startsWith(LdmKeys.OPEN_CLIP));
            StateDict textState = openClip ? StateDict.placed(st, device, dtype, LdmKeys.openClip(LdmKeys.OPEN_CLIP))
                    : new StateDict(st, device, dtype, LdmKeys.textEncoder());
            text = CLIPTextModel.load(textEncoderConfig, textState);
            StateDict unetState = new StateDict(st, device, dtype, ema ? LdmKeys.ema(LdmKeys.unet(unetConfig)) : LdmKeys.unet(unetConfig));
            unet = UNet2DConditionModel.load(unetConfig, unetState);
            StateDict vaeState = new StateDict(st, device, dtype, LdmKeys.vae(vaeConfig));
            vae = AutoencoderKL.load(vaeConfig, vaeState);
            java.util.function.Predicate<String> textUnused = openClip ? LdmKeys.openClipUnused(LdmKeys.OPEN_CLIP, text.config().layers()) : k -> false;
            checkAllPlaced(st, List.of(textState, unetState, vaeState), ema, textUnused);
            return new Models(text, unet, vae);
        } catch (RuntimeException e) {
            for (AutoCloseable m : new AutoCloseable[] {text, unet, vae})
                if (m != null) try {
                    m.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            throw e;
        }
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
