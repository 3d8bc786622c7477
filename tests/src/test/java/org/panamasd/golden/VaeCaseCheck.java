package org.panamasd.golden;

import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.models.vae.LatentDistribution;

/**
 * An AutoencoderKL case: encode (intermediates, mean, logvar, std, a sample with the recorded noise), decode,
 * round trip; the model computing in {@code dtype}.
 */
final class VaeCaseCheck implements GoldenParityTest.CaseCheck {
    private final DType dtype;

    VaeCaseCheck() {
        this(DType.FLOAT32);
    }

    VaeCaseCheck(DType dtype) {
        this.dtype = dtype;
    }

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        CaseTolerance tolerance = new CaseTolerance(c, dtype);
        try (AutoencoderKL vae = AutoencoderKL.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"), Device.CPU, dtype)) {
            tolerance.weights(vae.parameters());
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
                tolerance.intermediate(key, out.tensor(key), got);
            }
            tolerance.output("latent_mean", out.tensor("latent_mean"), latent.mean());
            tolerance.output("latent_logvar", out.tensor("latent_logvar"), latent.logvar());
            tolerance.output("latent_std", out.tensor("latent_std"), latent.std());
            tolerance.output("latent_sample", out.tensor("latent_sample"), latent.sample(in.tensor("sample_noise")));
            tolerance.output("latent_mean_scaled", out.tensor("latent_mean_scaled"), vae.scaleLatents(latent.mean()));
            tolerance.output("decoded", out.tensor("decoded"), decoded);
            tolerance.output("roundtrip", out.tensor("roundtrip"), vae.decode(latent.mode()));
        }
    }
}
