package org.panamasd.benchmark;

import org.panamasd.models.ModelSpecs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.clip.CLIPTextConfig;
import org.panamasd.models.unet.UNetConfig;
import org.panamasd.models.vae.VaeConfig;

/** The analytical FLOP counts against small cases counted by hand (a multiply-add is 2 FLOPs). */
class FlopCounterTest {
    @Test
    void primitives() {
        // 8 outputs x 4x4 positions x (3 inputs x 3x3 taps) multiply-adds
        assertEquals(2L * 8 * 16 * 27, Flops.conv(1, 3, 8, 3, 4, 4).conv());
        assertEquals(2L * 10 * 7 * 3, Flops.linear(10, 7, 3).linear());  // 10 rows x (7 inputs x 3 outputs)
        // q kᵀ and the weighted sum: 2 heads x (3 queries x 5 keys x 4 wide) multiply-adds, twice
        assertEquals(2L * 2 * 2 * 3 * 5 * 4, Flops.attention(1, 2, 3, 5, 4).attention());
    }

    @Test
    void clipTextLayerByHand() {
        CLIPTextConfig c = CLIPTextConfig.from(DiffusersConfig.parse("""
                {"hidden_size": 4, "intermediate_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "projection_dim": 5}"""));
        // 3 tokens: q, k, v, out 4 x (2*3*4*4) = 384; attention 2*2 * 2 heads * 3*3 * 2 = 144; fc1 + fc2 2 * (2*3*4*8) = 384
        Flops f = FlopCounter.clipText(c, 1, 3, false);
        assertEquals(new Flops(0, 768, 144), f);
        // text_projection on the pooled row: 2*4*5
        assertEquals(912 + 40, FlopCounter.clipText(c, 1, 3, true).total());
    }

    @Test
    void vaeDecoderByHand() {
        VaeConfig c = VaeConfig.from(DiffusersConfig.parse("""
                {"block_out_channels": [8], "down_block_types": ["DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D"],
                 "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 4}"""));
        // 2x2 latent: post_quant_conv 1x1 4->4: 2*4*4*4 = 128; conv_in 3x3 4->8: 2*8*4*36 = 2304;
        // 4 resnets 8->8 (2 in the mid block, layers_per_block + 1 in the one up block), each two 3x3 convs: 4 * 2 * 4608 = 36864;
        // conv_out 3x3 8->3: 2*3*4*72 = 1728; the mid attention: 4 projections 4 * (2*4*8*8) = 2048, products 2*2 * 4*4*8 = 512
        assertEquals(new Flops(128 + 2304 + 36864 + 1728, 2048, 512), FlopCounter.vaeDecode(c, 1, 2, 2));
    }

    @Test
    void unetByHand() {
        UNetConfig c = UNetConfig.from(DiffusersConfig.parse("""
                {"block_out_channels": [8], "down_block_types": ["CrossAttnDownBlock2D"], "up_block_types": ["CrossAttnUpBlock2D"],
                 "layers_per_block": 1, "attention_head_dim": 2, "cross_attention_dim": 6, "norm_num_groups": 4}"""));
        // batch 1, 2x2 latent, 3 context tokens; time embedding 8 -> 32 -> 32: 512 + 2048
        // conv_in 3x3 4->8: 2304; conv_out 3x3 8->4: 2304
        // resnet 8->8: two 3x3 convs 2 * 4608, time projection 2*32*8 = 512      (down: 1, mid: 2)
        // resnet 16->8 (output + skip): 3x3 9216 + 3x3 4608 + 1x1 shortcut 1024, time 512   (up: 2)
        // transformer (heads 2 of width 4, 4 tokens): 1x1 proj_in + proj_out 2 * 512;
        //   self-attention q, k, v, out 4 * 512, products 2*2 * 2 heads * 4*4*4 = 512;
        //   cross-attention q, out 2 * 512, k, v from the context 2 * (2*3*6*8) = 576, products 2*2 * 2 * 4*3*4 = 384;
        //   GEGLU 8 -> 64: 4096, 32 -> 8: 2048                                    (down: 1, mid: 1, up: 2)
        long conv = 2304 + 2304 + 3 * 9216 + 2 * (9216 + 4608 + 1024) + 4 * 1024;
        long linear = 2560 + 5 * 512 + 4 * (2048 + 1024 + 576 + 6144);
        long attention = 4 * (512 + 384);
        assertEquals(new Flops(conv, linear, attention), FlopCounter.unet(c, 1, 2, 2, 3));
    }

    @Test
    void scalesWithBatchAndSize() {
        UNetConfig sd15 = UNetConfig.from(DiffusersConfig.parse(ModelSpecs.SD15_UNET));
        Flops one = FlopCounter.unet(sd15, 1, 32, 32, 77), two = FlopCounter.unet(sd15, 2, 32, 32, 77);
        assertEquals(one.times(2), two);
        // convolutions are linear in the positions; self-attention's products quadratic, cross-attention's linear
        Flops big = FlopCounter.unet(sd15, 1, 64, 64, 77);
        assertEquals(4 * one.conv(), big.conv());
        assertTrue(big.attention() > 4 * one.attention() && big.attention() < 16 * one.attention());
        // the issue 8 figure: 71 GFLOP/s x 5.07 s for SD 1.5 at 32x32, batch 2 (360 GFLOP); 64x64 batch 1 is 803 GFLOP
        assertEquals(360.2, two.total() / 1e9, 0.1);
        assertEquals(803.3, big.total() / 1e9, 0.1);
    }
}
