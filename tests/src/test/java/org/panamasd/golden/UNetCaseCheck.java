package org.panamasd.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.unet.UNet2DConditionModel;

/**
 * A UNet2DConditionModel case: the forward pass with per-sample timesteps (every recorded intermediate, then
 * the output), and with one scalar float timestep broadcast to the batch; the model computing in {@code dtype}.
 */
final class UNetCaseCheck implements GoldenParityTest.CaseCheck {
    private final DType dtype;

    UNetCaseCheck() {
        this(DType.FLOAT32);
    }

    UNetCaseCheck(DType dtype) {
        this.dtype = dtype;
    }

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        CaseTolerance tolerance = new CaseTolerance(c, dtype);
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"), Device.CPU, dtype)) {
            tolerance.weights(unet.parameters());
            Tensor sample = in.tensor("sample"), context = in.tensor("encoder_hidden_states");
            Tensor textEmbeds = in.contains("text_embeds") ? in.tensor("text_embeds") : null;
            Tensor timeIds = in.contains("time_ids") ? in.tensor("time_ids") : null;
            Map<String, Tensor> intermediates = new LinkedHashMap<>();
            unet.recordIntermediates(intermediates);
            Tensor result = unet.forward(sample, in.tensor("timestep"), context, textEmbeds, timeIds);
            unet.recordIntermediates(null);
            for (String key : out.keys()) {
                if (!key.startsWith("debug.")) continue;
                String name = key.substring("debug.".length());
                Tensor got = intermediates.get(name);
                if (got == null) throw new AssertionError("the model recorded no intermediate '" + name + "'");
                tolerance.intermediate(key, out.tensor(key), got);
            }
            assertEquals(DType.FLOAT32, intermediates.get("time_proj").dtype(), "the sinusoidal embedding is made in float32");
            tolerance.output("out", out.tensor("out"), result);
            Tensor scalar = unet.forward(sample, in.tensor("scalar_timestep"), context, textEmbeds, timeIds);
            tolerance.output("out_scalar_t", out.tensor("out_scalar_t"), scalar);
        }
    }
}
