package org.panamasd.models.unet;

import org.panamasd.nn.Chain;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;
import org.panamasd.models.blocks.ResnetBlock2D;
import org.panamasd.nn.Weights;

/** resnet, spatial transformer, resnet at the lowest resolution. */
public final class UNetMidBlock2DCrossAttn {
    private final ResnetBlock2D first, second;
    private final Transformer2DModel attention;

    private final ModulePath.Name modulePath;

    public UNetMidBlock2DCrossAttn(Weights w, String prefix, UNetConfig c) {
        this.modulePath = ModulePath.of(prefix);
        int channels = c.blockOutChannels()[c.blockOutChannels().length - 1];
        int last = c.numAttentionHeads().length - 1;
        this.first = new ResnetBlock2D(w, prefix + ".resnets.0", channels, channels, c.timeEmbedDim(), c.normNumGroups(), c.normEps(), c.midBlockScaleFactor());
        this.attention = new Transformer2DModel(w, prefix + ".attentions.0", channels, c.numAttentionHeads()[last],
                c.transformerLayersPerBlock()[last], c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection());
        this.second = new ResnetBlock2D(w, prefix + ".resnets.1", channels, channels, c.timeEmbedDim(), c.normNumGroups(), c.normEps(), c.midBlockScaleFactor());
    }

    public Tensor forward(Tensor x, Tensor temb, Tensor context) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Chain.from(x).then(t -> first.forward(t, temb)).then(t -> attention.forward(t, context)).then(t -> second.forward(t, temb)).get();
        }
    }
}
