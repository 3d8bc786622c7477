package org.panamasd.models.vae;

import static org.panamasd.models.Intermediates.put;

import org.panamasd.nn.Chain;
import org.panamasd.MemoryFormat;
import org.panamasd.ModulePath;
import org.panamasd.Tensor;
import org.panamasd.models.Intermediates;
import org.panamasd.models.blocks.Downsample2D;
import org.panamasd.models.blocks.ResnetBlock2D;
import org.panamasd.nn.BandedConvolution;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.Weights;

/** conv_in, DownEncoderBlock2D x N (resnets, then a stride-2 conv but in the last), mid block, norm, SiLU, conv_out to 2 x latent channels. */
final class Encoder {
    private final Conv2d convIn, convOut;
    private final ResnetBlock2D[][] resnets;
    private final Downsample2D[] downsamplers;
    private final VaeMidBlock midBlock;
    private final GroupNorm convNormOut;

    private final ModulePath.Name modulePath;

    Encoder(Weights w, String prefix, VaeConfig c) {
        this.modulePath = ModulePath.of(prefix);
        int[] channels = c.blockOutChannels();
        int groups = c.normNumGroups();
        this.convIn = new Conv2d(w, prefix + ".conv_in", c.inChannels(), channels[0], 3, 1, 1);
        this.resnets = new ResnetBlock2D[channels.length][];
        this.downsamplers = new Downsample2D[channels.length];
        int in = channels[0];
        for (int i = 0; i < channels.length; i++) {
            String block = prefix + ".down_blocks." + i;
            resnets[i] = new ResnetBlock2D[c.layersPerBlock()];
            for (int j = 0; j < c.layersPerBlock(); j++)
                resnets[i][j] = new ResnetBlock2D(w, block + ".resnets." + j, j == 0 ? in : channels[i], channels[i], 0, groups, 1e-6, 1.0);
            if (i < channels.length - 1) downsamplers[i] = new Downsample2D(w, block + ".downsamplers.0", channels[i], 0);
            in = channels[i];
        }
        int last = channels[channels.length - 1];
        this.midBlock = new VaeMidBlock(w, prefix + ".mid_block", last, groups);
        this.convNormOut = new GroupNorm(w, prefix + ".conv_norm_out", groups, last, 1e-6);
        this.convOut = new Conv2d(w, prefix + ".conv_out", last, 2L * c.latentChannels(), 3, 1, 1);
    }

    Tensor forward(Tensor image, Intermediates record) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            Chain x = Chain.from(image);
            // channels-last activations throughout, for the reason the decoder gives
            x.then(t -> put(record, "encoder.conv_in", convIn.forward(t.contiguous(MemoryFormat.CHANNELS_LAST))));
            for (int i = 0; i < resnets.length; i++) {
                for (ResnetBlock2D resnet : resnets[i]) x.then(t -> resnet.forward(t, null));
                Downsample2D downsampler = downsamplers[i];
                if (downsampler != null) x.then(downsampler::forward);
                put(record, "encoder.down_blocks." + i, x.get());
            }
            x.then(t -> put(record, "encoder.mid_block", midBlock.forward(t)));
            return x.then(t -> put(record, "encoder.conv_out", BandedConvolution.normSiluConv(convNormOut, convOut, t).contiguous())).get();
        }
    }
}
