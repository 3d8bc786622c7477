package org.panamasd.io.singlefile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;

/**
 * A diffusers SD 1.x directory written as one original-layout safetensors file, as diffusers'
 * {@code convert_diffusers_to_original_stable_diffusion.py} does: the UNet, VAE and text encoder under the names
 * {@link LdmKeys} reads them from (the VAE's attention projections as 1x1 convolution kernels, as the LDM layout
 * keeps them) and CLIP's {@code position_ids}; values and dtypes unchanged. What other single-file programs
 * (stable-diffusion.cpp, A1111) load, for comparisons on the same weights.
 */
public final class SingleFileWriter {
    private SingleFileWriter() {}

    /** {@code diffusers}' three models in {@code file}, with {@code extra} tensors beside them. */
    public static void writeSd1(Path diffusers, Path file, Map<String, Tensor> extra) {
        for (String part : new String[] {"unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"})
            if (!Files.isRegularFile(diffusers.resolve(part))) throw new IllegalArgumentException(diffusers + " is not a diffusers SD 1.x directory: it has no " + part);
        if (Files.isDirectory(diffusers.resolve("text_encoder_2")))
            throw new IllegalArgumentException(diffusers + " is an SDXL directory (text_encoder_2/): only SD 1.x is written as a single file");
        try (Scope s = Scope.open()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            put(all, diffusers.resolve("unet/diffusion_pytorch_model.safetensors"), LdmKeys.unet(DiffusersConfig.read(diffusers.resolve("unet/config.json"))));
            put(all, diffusers.resolve("vae/diffusion_pytorch_model.safetensors"), LdmKeys.vae(DiffusersConfig.read(diffusers.resolve("vae/config.json"))));
            put(all, diffusers.resolve("text_encoder/model.safetensors"), LdmKeys.textEncoder(LdmKeys.TEXT_ENCODER));
            all.put(LdmKeys.TEXT_ENCODER + "text_model.embeddings.position_ids", Tensor.of(new long[77], 1, 77));
            all.putAll(extra);
            SafeTensorsWriter.write(all, Map.of(), file);
        }
    }

    /** Every tensor of the safetensors file {@code component} into {@code all} under its LDM name (views of the mapped file, in the caller's scope). */
    public static void put(Map<String, Tensor> all, Path component, UnaryOperator<String> ldm) {
        SafeTensors st = SafeTensors.open(component);
        for (String key : st.keys()) {
            Tensor t = st.tensor(key);
            boolean vaeAttention = key.contains("mid_block.attentions.0.to_") && t.dim() == 2;  // the LDM VAE keeps these as 1x1 convs
            all.put(ldm.apply(key), vaeAttention ? t.reshape(t.size(0), t.size(1), 1, 1) : t);
        }
    }
}
