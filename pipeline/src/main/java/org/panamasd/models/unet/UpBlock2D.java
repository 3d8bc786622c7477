package org.panamasd.models.unet;

import java.util.List;
import org.panamasd.nn.Chain;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;
import org.panamasd.models.blocks.ResnetBlock2D;
import org.panamasd.models.blocks.Upsample2D;
import org.panamasd.nn.Weights;

/**
 * layers_per_block + 1 resnets, each over the concatenation with the last unused skip tensor (and, for
 * CrossAttnUpBlock2D, a spatial transformer after each), then the upsampler except in the last block.
 */
final class UpBlock2D {
    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions;
    private final Upsample2D upsampler;

    private final ModulePath.Name modulePath;

    UpBlock2D(Weights w, String prefix, UNetConfig c, int block, int previousOut, int out, int skipIn, boolean crossAttention, boolean last) {
        this.modulePath = ModulePath.of(prefix);
        int layers = c.layersPerBlock() + 1;
        int reversed = c.blockOutChannels().length - 1 - block;
        this.resnets = new ResnetBlock2D[layers];
        this.attentions = crossAttention ? new Transformer2DModel[layers] : null;
        for (int i = 0; i < layers; i++) {
            int skip = i == layers - 1 ? skipIn : out;
            int resnetIn = i == 0 ? previousOut : out;
            resnets[i] = new ResnetBlock2D(w, prefix + ".resnets." + i, resnetIn + skip, out, c.timeEmbedDim(), c.normNumGroups(), c.normEps(), 1.0);
            if (crossAttention)
                attentions[i] = new Transformer2DModel(w, prefix + ".attentions." + i, out, c.numAttentionHeads()[reversed],
                        c.transformerLayersPerBlock()[reversed], c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection());
        }
        this.upsampler = last ? null : new Upsample2D(w, prefix + ".upsamplers.0", out);
    }

    int resnetCount() {
        return resnets.length;
    }

    /** Consumes skip tensors from the end of {@code skips}; upsampleTo is the next skip's (H, W) or null. */
    Tensor forward(Tensor input, Tensor temb, Tensor context, List<Tensor> skips, long[] upsampleTo) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            Chain x = Chain.from(input);
            for (int i = 0; i < resnets.length; i++) {
                Tensor skip = skips.removeLast();
                ResnetBlock2D resnet = resnets[i];
                x.then(t -> resnet.forward(Tensor.cat(1, t, skip), temb));  // the concatenation dies with the stage
                if (attentions != null) {
                    Transformer2DModel attention = attentions[i];
                    x.then(t -> attention.forward(t, context));
                }
            }
            return upsampler == null ? x.get() : x.then(t -> upsampler.forward(t, upsampleTo)).get();
        }
    }
}
