package org.panamasd.models.unet;

import java.util.List;
import org.panamasd.ModulePath;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.blocks.Downsample2D;
import org.panamasd.models.blocks.ResnetBlock2D;
import org.panamasd.nn.Weights;

/**
 * resnets (and, for CrossAttnDownBlock2D, a spatial transformer after each), then the downsampler except in
 * the last block. Every intermediate result is kept for the skip connections of the up path.
 */
public final class DownBlock2D {
    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions;  // null for a DownBlock2D
    private final Downsample2D downsampler;

    private final ModulePath.Name modulePath;

    private DownBlock2D(Weights w, String prefix, UNetConfig c, int block, int in, int out, boolean crossAttention, boolean last) {
        this.modulePath = ModulePath.of(prefix);
        int layers = c.layersPerBlock();
        this.resnets = new ResnetBlock2D[layers];
        this.attentions = crossAttention ? new Transformer2DModel[layers] : null;
        for (int i = 0; i < layers; i++) {
            resnets[i] = new ResnetBlock2D(w, prefix + ".resnets." + i, i == 0 ? in : out, out, c.timeEmbedDim(), c.normNumGroups(), c.normEps(), 1.0);
            if (crossAttention)
                attentions[i] = new Transformer2DModel(w, prefix + ".attentions." + i, out, c.numAttentionHeads()[block],
                        c.transformerLayersPerBlock()[block], c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection());
        }
        this.downsampler = last ? null : new Downsample2D(w, prefix + ".downsamplers.0", out, c.downsamplePadding());
    }

    /**
     * Down block {@code i} of a UNet (or ControlNet) config, {@code down_blocks.i}: its type from down_block_types,
     * its input the previous block's width, a downsampler except in the last block.
     */
    public static DownBlock2D of(Weights w, UNetConfig c, int i) {
        int[] channels = c.blockOutChannels();
        String type = c.downBlockTypes().get(i);
        if (!type.equals("CrossAttnDownBlock2D") && !type.equals("DownBlock2D"))
            throw new IllegalArgumentException("down_block_types[" + i + "] " + type + " is not built here (CrossAttnDownBlock2D, DownBlock2D)");
        return new DownBlock2D(w, "down_blocks." + i, c, i, i == 0 ? channels[0] : channels[i - 1], channels[i], type.equals("CrossAttnDownBlock2D"),
                i == channels.length - 1);
    }

    /** Returns the block's output; appends every skip tensor to {@code skips}. */
    /** Appends each layer's output to {@code skips} (owned by the calling scope: the up blocks read them). */
    public Tensor forward(Tensor input, Tensor temb, Tensor context, List<Tensor> skips) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Scope.returning(() -> {
                Tensor x = input;
                for (int i = 0; i < resnets.length; i++) {
                    x = resnets[i].forward(x, temb);
                    if (attentions != null) x = attentions[i].forward(x, context);
                    skips.add(x.moveToParent());
                }
                if (downsampler != null) skips.add((x = downsampler.forward(x)).moveToParent());
                return x;
            });
        }
    }
}
