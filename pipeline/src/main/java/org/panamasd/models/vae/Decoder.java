package org.panamasd.models.vae;

import static org.panamasd.models.Intermediates.put;

import org.panamasd.nn.Chain;
import org.panamasd.MemoryFormat;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;
import org.panamasd.models.Intermediates;
import org.panamasd.models.blocks.ResnetBlock2D;
import org.panamasd.models.blocks.Upsample2D;
import org.panamasd.nn.BandedConvolution;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.Weights;

/** conv_in, mid block, UpDecoderBlock2D x N (layers + 1 resnets, then 2x upsampling but in the last), norm, SiLU, conv_out. */
final class Decoder {
    private final Conv2d convIn, convOut;
    private final VaeMidBlock midBlock;
    private final ResnetBlock2D[][] resnets;
    private final Upsample2D[] upsamplers;
    private final GroupNorm convNormOut;

    private final ModulePath.Name modulePath;

    Decoder(Weights w, String prefix, VaeConfig c) {
        this.modulePath = ModulePath.of(prefix);
        int[] channels = c.blockOutChannels();
        int n = channels.length, groups = c.normNumGroups();
        int top = channels[n - 1];
        this.convIn = new Conv2d(w, prefix + ".conv_in", c.latentChannels(), top, 3, 1, 1);
        this.midBlock = new VaeMidBlock(w, prefix + ".mid_block", top, groups);
        this.resnets = new ResnetBlock2D[n][];
        this.upsamplers = new Upsample2D[n];
        int previous = top;
        for (int i = 0; i < n; i++) {
            int out = channels[n - 1 - i];
            String block = prefix + ".up_blocks." + i;
            resnets[i] = new ResnetBlock2D[c.layersPerBlock() + 1];
            for (int j = 0; j < resnets[i].length; j++)
                resnets[i][j] = new ResnetBlock2D(w, block + ".resnets." + j, j == 0 ? previous : out, out, 0, groups, 1e-6, 1.0);
            if (i < n - 1) upsamplers[i] = new Upsample2D(w, block + ".upsamplers.0", out);
            previous = out;
        }
        this.convNormOut = new GroupNorm(w, prefix + ".conv_norm_out", groups, channels[0], 1e-6);
        this.convOut = new Conv2d(w, prefix + ".conv_out", channels[0], c.outChannels(), 3, 1, 1);
    }

    Tensor forward(Tensor z, Intermediates record) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            Chain x = Chain.from(z);
            // Channels-last from here on: oneDNN convolves NHWC activations in place of reordering a full-size copy of
            // each one in and out (one activation fewer at the 512x512 peak, and faster convolutions); the latents
            // are too small for conv_in to take oneDNN's path, so they are converted after it.
            x.then(t -> put(record, "decoder.conv_in", convIn.forward(t).contiguous(MemoryFormat.CHANNELS_LAST)));
            x.then(t -> put(record, "decoder.mid_block", midBlock.forward(t)));
            for (int i = 0; i < resnets.length; i++) {
                ResnetBlock2D[] block = resnets[i];
                // Unrecorded, the block's resnets compute in the memory of their own activations (a recorded output
                // keeps its values for the test that reads it)
                if (record == null) x.then(t -> ResnetBlock2D.forwardOver(block, t.giveUp()));  // the chain made t: nothing reads it again
                else for (ResnetBlock2D resnet : block) x.then(t -> resnet.forward(t, null));
                Upsample2D upsampler = upsamplers[i];
                if (upsampler != null) {
                    // the upsampler holds its input while it writes an output 4x as large: a channel slice of a larger
                    // tensor (forwardOver's result) is compacted first, in a stage of its own so that the larger one
                    // is freed before the upsampler starts
                    x.then(t -> t.contiguous(MemoryFormat.CHANNELS_LAST));
                    x.then(t -> upsampler.forward(t, null));
                }
                put(record, "decoder.up_blocks." + i, x.get());
            }
            return x.then(t -> put(record, "decoder.conv_out", BandedConvolution.normSiluConv(convNormOut, convOut, t).contiguous())).get();
        }
    }
}
