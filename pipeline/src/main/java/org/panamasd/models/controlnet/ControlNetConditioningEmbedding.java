package org.panamasd.models.controlnet;

import org.panamasd.Tensor;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.Weights;

/**
 * The conditioning image to the UNet's first feature map (diffusers' ControlNetConditioningEmbedding): conv_in
 * 3x3 and SiLU, then for each consecutive pair of {@code conditioning_embedding_out_channels} a 3x3 conv and SiLU
 * and a stride-2 3x3 conv and SiLU (one halving per pair, down to the latents' size), then conv_out 3x3 with no
 * activation; the result is added to conv_in(sample).
 */
final class ControlNetConditioningEmbedding {
    private final Conv2d convIn, convOut;
    private final Conv2d[] blocks;

    ControlNetConditioningEmbedding(Weights w, String prefix, int conditioningChannels, int[] outChannels, int embeddingChannels) {
        this.convIn = new Conv2d(w, prefix + ".conv_in", conditioningChannels, outChannels[0], 3, 1, 1);
        this.blocks = new Conv2d[2 * (outChannels.length - 1)];
        for (int i = 0; i < outChannels.length - 1; i++) {
            blocks[2 * i] = new Conv2d(w, prefix + ".blocks." + (2 * i), outChannels[i], outChannels[i], 3, 1, 1);
            blocks[2 * i + 1] = new Conv2d(w, prefix + ".blocks." + (2 * i + 1), outChannels[i], outChannels[i + 1], 3, 2, 1);
        }
        this.convOut = new Conv2d(w, prefix + ".conv_out", outChannels[outChannels.length - 1], embeddingChannels, 3, 1, 1);
    }

    Tensor forward(Tensor conditioning) {
        Tensor x = convIn.forward(conditioning).silu();
        for (Conv2d block : blocks) x = block.forward(x).silu();
        return convOut.forward(x);
    }
}
