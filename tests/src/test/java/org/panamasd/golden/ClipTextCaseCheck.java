package org.panamasd.golden;

import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.clip.CLIPTextModel;

/** A CLIP text encoder case: every hidden state, the final one, the pooled output and (with projection) text_embeds. */
final class ClipTextCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        try (CLIPTextModel model = CLIPTextModel.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"))) {
            CLIPTextModel.Output o = model.forward(in.tensor("input_ids"));
            for (int i = 0; i < o.hiddenStates().size(); i++)
                Compare.tensors("hidden_states." + i, out.tensor("hidden_states." + i), o.hiddenStates().get(i), c.atol(), c.rtol());
            if (out.contains("hidden_states." + o.hiddenStates().size())) throw new AssertionError("the reference has more hidden states than the model");
            Compare.tensors("last_hidden_state", out.tensor("last_hidden_state"), o.lastHiddenState(), c.atol(), c.rtol());
            Compare.tensors("pooler_output", out.tensor("pooler_output"), o.pooled(), c.atol(), c.rtol());
            if (out.contains("text_embeds")) {
                if (o.textEmbeds() == null) throw new AssertionError("the model has no text_projection");
                Compare.tensors("text_embeds", out.tensor("text_embeds"), o.textEmbeds(), c.atol(), c.rtol());
            }
        }
    }
}
