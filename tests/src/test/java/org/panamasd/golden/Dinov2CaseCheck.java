package org.panamasd.golden;

import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.models.dinov2.Dinov2Model;

/** A DINOv2 case: every hidden state, the final one and the pooled [CLS] for each input size. */
final class Dinov2CaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        SafeTensors in = c.inputs(), out = c.outputs();
        try (Dinov2Model model = Dinov2Model.load(DiffusersConfig.read(c.config()), c.dir().resolve("weights.safetensors"))) {
            for (int k = 0; in.contains("pixel_values_" + k); k++) {
                Dinov2Model.Output o = model.forward(in.tensor("pixel_values_" + k));
                for (int i = 0; i < o.hiddenStates().size(); i++)
                    Compare.tensors("hidden_states_" + k + "." + i, out.tensor("hidden_states_" + k + "." + i), o.hiddenStates().get(i), c.atol(), c.rtol());
                Compare.tensors("last_hidden_state_" + k, out.tensor("last_hidden_state_" + k), o.lastHiddenState(), c.atol(), c.rtol());
                Compare.tensors("pooler_output_" + k, out.tensor("pooler_output_" + k), o.pooled(), c.atol(), c.rtol());
            }
        }
    }
}
