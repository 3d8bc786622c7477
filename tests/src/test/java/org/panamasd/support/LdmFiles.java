package org.panamasd.support;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.io.singlefile.LdmKeys;
import org.panamasd.io.singlefile.SingleFileWriter;

/**
 * Original-layout single files written from a diffusers directory (its keys put where {@link LdmKeys} says, the
 * VAE's attention weights as 1x1 conv kernels as the LDM layout keeps them), for tests on what a fresh clone has.
 * That the key map is the reference's is the golden sd-single-file-tiny case's job.
 */
public final class LdmFiles {
    private LdmFiles() {}

    /** A diffusers directory's three models in one file under their LDM names, with {@code extra} tensors beside them (in the caller's scope). */
    public static void write(Path diffusers, Path file, Map<String, Tensor> extra) {
        SingleFileWriter.writeSd1(diffusers, file, extra);
    }

    /**
     * As {@link #write}, with the text encoder in SD 2.x's OpenCLIP layout under {@code cond_stage_model.model.}, the
     * names written out here rather than taken from {@link LdmKeys#openClip}: q, k, v concatenated into each layer's
     * {@code attn.in_proj_weight} / {@code in_proj_bias}, and what an OpenCLIP checkpoint carries besides (one layer
     * more than the model uses, {@code logit_scale}, {@code text_projection}).
     */
    public static void writeOpenClip(Path diffusers, Path file, Map<String, Tensor> extra) {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            SingleFileWriter.put(all, diffusers.resolve("unet/diffusion_pytorch_model.safetensors"), LdmKeys.unet(DiffusersConfig.read(diffusers.resolve("unet/config.json"))));
            SingleFileWriter.put(all, diffusers.resolve("vae/diffusion_pytorch_model.safetensors"), LdmKeys.vae(DiffusersConfig.read(diffusers.resolve("vae/config.json"))));
            openClip(all, diffusers.resolve("text_encoder"), "cond_stage_model.model.", 1);
            all.putAll(extra);
            SafeTensorsWriter.write(all, Map.of(), file);
        }
    }

    /**
     * An SDXL directory in one file: UNet and VAE under their LDM names, the first text encoder under transformers'
     * names behind {@code conditioner.embedders.0.transformer.}, the second in OpenCLIP's layout behind
     * {@code conditioner.embedders.1.model.}, its projection written as OpenCLIP keeps it, (width, projection).
     */
    public static void writeXl(Path diffusers, Path file) {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            SingleFileWriter.put(all, diffusers.resolve("unet/diffusion_pytorch_model.safetensors"), LdmKeys.unet(DiffusersConfig.read(diffusers.resolve("unet/config.json"))));
            SingleFileWriter.put(all, diffusers.resolve("vae/diffusion_pytorch_model.safetensors"), LdmKeys.vae(DiffusersConfig.read(diffusers.resolve("vae/config.json"))));
            SingleFileWriter.put(all, diffusers.resolve("text_encoder/model.safetensors"), key -> "conditioner.embedders.0.transformer." + key);
            openClip(all, diffusers.resolve("text_encoder_2"), "conditioner.embedders.1.model.", 0);
            SafeTensorsWriter.write(all, Map.of(), file);
        }
    }

    /**
     * A transformers CLIP text model in OpenCLIP's layout behind {@code p}, the names written out here rather than
     * taken from {@link LdmKeys#openClip}: q, k, v concatenated into each layer's {@code attn.in_proj_weight} /
     * {@code in_proj_bias}; {@code extraLayers} more layers than the model has (SD 2.x's last, which it does not
     * use), {@code logit_scale}, and {@code text_projection} as (width, projection): the model's transposed, or zeros.
     */
    private static void openClip(Map<String, Tensor> all, Path component, String p, int extraLayers) {
        SafeTensors text = SafeTensors.open(component.resolve("model.safetensors"));
        String hf = "text_model.";
        all.put(p + "token_embedding.weight", text.tensor(hf + "embeddings.token_embedding.weight"));
        all.put(p + "positional_embedding", text.tensor(hf + "embeddings.position_embedding.weight"));
        all.put(p + "ln_final.weight", text.tensor(hf + "final_layer_norm.weight"));
        all.put(p + "ln_final.bias", text.tensor(hf + "final_layer_norm.bias"));
        int layers = DiffusersConfig.read(component.resolve("config.json")).integer("num_hidden_layers", 0);
        for (int i = 0; i < layers + extraLayers; i++) {
            String from = hf + "encoder.layers." + Math.min(i, layers - 1) + ".", to = p + "transformer.resblocks." + i + ".";
            for (String kind : new String[] {"weight", "bias"}) {
                all.put(to + "attn.in_proj_" + kind, Tensor.cat(0, text.tensor(from + "self_attn.q_proj." + kind), text.tensor(from + "self_attn.k_proj." + kind),
                        text.tensor(from + "self_attn.v_proj." + kind)));
                all.put(to + "attn.out_proj." + kind, text.tensor(from + "self_attn.out_proj." + kind));
                all.put(to + "ln_1." + kind, text.tensor(from + "layer_norm1." + kind));
                all.put(to + "ln_2." + kind, text.tensor(from + "layer_norm2." + kind));
                all.put(to + "mlp.c_fc." + kind, text.tensor(from + "mlp.fc1." + kind));
                all.put(to + "mlp.c_proj." + kind, text.tensor(from + "mlp.fc2." + kind));
            }
        }
        long width = text.entry(hf + "final_layer_norm.weight").shape()[0];
        all.put(p + "logit_scale", Tensor.of(new float[] {4.6f}));
        all.put(p + "text_projection", text.contains("text_projection.weight") ? text.tensor("text_projection.weight").transpose(0, 1).contiguous()
                : Tensor.zeros(width, width));
    }
}
