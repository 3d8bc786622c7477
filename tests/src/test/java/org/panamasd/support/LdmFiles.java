package org.panamasd.support;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.io.singlefile.LdmKeys;

/**
 * Original-layout single files written from a diffusers directory (its keys put where {@link LdmKeys} says, the
 * VAE's attention weights as 1x1 conv kernels as the LDM layout keeps them), for tests on what a fresh clone has.
 * That the key map is the reference's is the golden sd-single-file-tiny case's job.
 */
public final class LdmFiles {
    private LdmFiles() {}

    /** A diffusers directory's three models in one file under their LDM names, with {@code extra} tensors beside them (in the caller's scope). */
    public static void write(Path diffusers, Path file, Map<String, Tensor> extra) {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            put(all, diffusers.resolve("unet/diffusion_pytorch_model.safetensors"), LdmKeys.unet(DiffusersConfig.read(diffusers.resolve("unet/config.json"))));
            put(all, diffusers.resolve("vae/diffusion_pytorch_model.safetensors"), LdmKeys.vae(DiffusersConfig.read(diffusers.resolve("vae/config.json"))));
            put(all, diffusers.resolve("text_encoder/model.safetensors"), LdmKeys.textEncoder());
            all.put("cond_stage_model.transformer.text_model.embeddings.position_ids", Tensor.of(new long[77], 1, 77));
            all.putAll(extra);
            SafeTensorsWriter.write(all, Map.of(), file);
        }
    }

    private static void put(Map<String, Tensor> all, Path component, UnaryOperator<String> ldm) {
        SafeTensors st = SafeTensors.open(component);
        for (String key : st.keys()) {
            Tensor t = st.tensor(key);
            boolean vaeAttention = key.contains("mid_block.attentions.0.to_") && t.dim() == 2;  // the LDM VAE keeps these as 1x1 convs
            all.put(ldm.apply(key), vaeAttention ? t.reshape(t.size(0), t.size(1), 1, 1) : t);
        }
    }

}
