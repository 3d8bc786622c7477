package org.panamasd.golden;

import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.models.vae.LatentDistribution;

/** An AutoencoderKL case: encode (intermediates, mean, logvar, std, a sample with the recorded noise), decode, round trip. */
final class VaeCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        double atol = c.atol(), rtol = c.rtol();
        try (AutoencoderKL vae = AutoencoderKL.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"))) {
            Map<String, Tensor> encodeSteps = new LinkedHashMap<>();
            vae.recordIntermediates(encodeSteps);
            LatentDistribution latent = vae.encode(in.tensor("image"));
            Map<String, Tensor> decodeSteps = new LinkedHashMap<>();
            vae.recordIntermediates(decodeSteps);
            Tensor decoded = vae.decode(in.tensor("latents"));
            vae.recordIntermediates(null);
            for (String key : out.keys()) {
                if (!key.startsWith("debug.")) continue;
                String name = key.substring("debug.".length());
                Tensor got = name.startsWith("encoder.") || name.equals("quant_conv") ? encodeSteps.get(name) : decodeSteps.get(name);
                if (got == null) throw new AssertionError("the model recorded no intermediate '" + name + "'");
                Compare.tensors(key, out.tensor(key), got, atol, rtol);
            }
            Compare.tensors("latent_mean", out.tensor("latent_mean"), latent.mean(), atol, rtol);
            Compare.tensors("latent_logvar", out.tensor("latent_logvar"), latent.logvar(), atol, rtol);
            Compare.tensors("latent_std", out.tensor("latent_std"), latent.std(), atol, rtol);
            Compare.tensors("latent_sample", out.tensor("latent_sample"), latent.sample(in.tensor("sample_noise")), atol, rtol);
            Compare.tensors("latent_mean_scaled", out.tensor("latent_mean_scaled"), vae.scaleLatents(latent.mean()), atol, rtol);
            Compare.tensors("decoded", out.tensor("decoded"), decoded, atol, rtol);
            Compare.tensors("roundtrip", out.tensor("roundtrip"), vae.decode(latent.mode()), atol, rtol);
        }
    }
}
