package org.panamasd.models.vae;

import org.panamasd.nn.Chain;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;
import org.panamasd.models.blocks.ResnetBlock2D;
import org.panamasd.nn.Weights;

/** UNetMidBlock2D of the autoencoder: resnet, self-attention, resnet (no time embedding). */
final class VaeMidBlock {
    private final ResnetBlock2D first, second;
    private final VaeAttention attention;

    private final ModulePath.Name modulePath;

    VaeMidBlock(Weights w, String prefix, int channels, int groups) {
        this.modulePath = ModulePath.of(prefix);
        this.first = new ResnetBlock2D(w, prefix + ".resnets.0", channels, channels, 0, groups, 1e-6, 1.0);
        this.attention = new VaeAttention(w, prefix + ".attentions.0", channels, groups);
        this.second = new ResnetBlock2D(w, prefix + ".resnets.1", channels, channels, 0, groups, 1e-6, 1.0);
    }

    Tensor forward(Tensor x) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Chain.from(x).then(t -> first.forward(t, null)).then(attention::forward).then(t -> second.forward(t, null)).get();
        }
    }
}
