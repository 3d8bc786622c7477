package org.panamasd.golden;

import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.clip.CLIPTextModel;

/**
 * A CLIP text encoder case: every hidden state, the final one, the pooled output and (with projection)
 * text_embeds; the model computing in {@code dtype}.
 */
final class ClipTextCaseCheck implements GoldenParityTest.CaseCheck {
    private final DType dtype;

    ClipTextCaseCheck() {
        this(DType.FLOAT32);
    }

    ClipTextCaseCheck(DType dtype) {
        this.dtype = dtype;
    }

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        CaseTolerance tolerance = new CaseTolerance(c, dtype);
        try (CLIPTextModel model = CLIPTextModel.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"), Device.CPU, dtype)) {
            tolerance.weights(model.parameters());
            CLIPTextModel.Output o = model.forward(in.tensor("input_ids"));
            for (int i = 0; i < o.hiddenStates().size(); i++)
                tolerance.intermediate("hidden_states." + i, out.tensor("hidden_states." + i), o.hiddenStates().get(i));
            if (out.contains("hidden_states." + o.hiddenStates().size())) throw new AssertionError("the reference has more hidden states than the model");
            tolerance.output("last_hidden_state", out.tensor("last_hidden_state"), o.lastHiddenState());
            tolerance.output("pooler_output", out.tensor("pooler_output"), o.pooled());
            if (out.contains("text_embeds")) {
                if (o.textEmbeds() == null) throw new AssertionError("the model has no text_projection");
                tolerance.output("text_embeds", out.tensor("text_embeds"), o.textEmbeds());
            }
        }
    }
}
