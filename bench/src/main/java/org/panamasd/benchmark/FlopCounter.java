package org.panamasd.benchmark;

import org.panamasd.models.clip.CLIPTextConfig;
import org.panamasd.models.unet.UNetConfig;
import org.panamasd.models.vae.VaeConfig;

/**
 * The FLOPs of one forward pass, counted analytically from a model's config and input shape, following
 * diffusers' / transformers' module structure (the structure the model code mirrors key by key): what a
 * GFLOP/s figure divides by. It counts the nominal model, so work an implementation adds (tiles that overlap,
 * recomputation) makes GFLOP/s lower, never higher.
 */
public final class FlopCounter {
    private FlopCounter() {}

    /** One UNet2DConditionModel forward: {@code batch} latents of height x width, a context of {@code contextTokens} tokens. */
    public static Flops unet(UNetConfig c, long batch, long height, long width, long contextTokens) {
        int[] ch = c.blockOutChannels();
        int n = ch.length;
        long timeDim = 4L * ch[0];
        Flops f = Flops.linear(batch, ch[0], timeDim).plus(Flops.linear(batch, timeDim, timeDim));  // time_embedding
        if ("text_time".equals(c.additionEmbedType()))
            f = f.plus(Flops.linear(batch, c.projectionClassEmbeddingsInputDim(), timeDim)).plus(Flops.linear(batch, timeDim, timeDim));
        f = f.plus(Flops.conv(batch, c.inChannels(), ch[0], c.convInKernel(), height, width));
        long h = height, w = width;
        Block block = new Block(c, batch, timeDim, contextTokens);
        for (int i = 0; i < n; i++) {
            boolean attention = c.downBlockTypes().get(i).startsWith("CrossAttn");
            for (int j = 0; j < c.layersPerBlock(); j++) {
                f = f.plus(block.resnet(j == 0 ? (i == 0 ? ch[0] : ch[i - 1]) : ch[i], ch[i], h, w));
                if (attention) f = f.plus(block.transformer(ch[i], c.numAttentionHeads()[i], c.transformerLayersPerBlock()[i], h, w));
            }
            if (i < n - 1) {
                long oh = (h + 2L * c.downsamplePadding() - 3) / 2 + 1, ow = (w + 2L * c.downsamplePadding() - 3) / 2 + 1;
                f = f.plus(Flops.conv(batch, ch[i], ch[i], 3, oh, ow));
                h = oh;
                w = ow;
            }
        }
        int last = n - 1;
        f = f.plus(block.resnet(ch[last], ch[last], h, w).times(2))
                .plus(block.transformer(ch[last], c.numAttentionHeads()[last], c.transformerLayersPerBlock()[last], h, w));
        int previous = ch[last];
        for (int i = 0; i < n; i++) {
            int reversed = n - 1 - i;
            int out = ch[reversed], skipIn = ch[Math.max(reversed - 1, 0)];
            boolean attention = c.upBlockTypes().get(i).startsWith("CrossAttn");
            for (int j = 0; j <= c.layersPerBlock(); j++) {
                int resnetIn = j == 0 ? previous : out, skip = j == c.layersPerBlock() ? skipIn : out;
                f = f.plus(block.resnet(resnetIn + skip, out, h, w));
                if (attention) f = f.plus(block.transformer(out, c.numAttentionHeads()[reversed], c.transformerLayersPerBlock()[reversed], h, w));
            }
            if (i < n - 1) {  // nearest 2x, then a 3x3 conv at the new size
                h *= 2;
                w *= 2;
                f = f.plus(Flops.conv(batch, out, out, 3, h, w));
            }
            previous = out;
        }
        return f.plus(Flops.conv(batch, ch[0], c.outChannels(), c.convOutKernel(), h, w));
    }

    /** AutoencoderKL.decode of {@code batch} latents of height x width (post_quant_conv and the decoder). */
    public static Flops vaeDecode(VaeConfig c, long batch, long height, long width) {
        int[] ch = c.blockOutChannels();
        int n = ch.length, top = ch[n - 1];
        long latent = c.latentChannels();
        Block block = new Block(batch);
        Flops f = Flops.conv(batch, latent, latent, 1, height, width).plus(Flops.conv(batch, latent, top, 3, height, width));
        f = f.plus(block.resnet(top, top, height, width).times(2)).plus(vaeAttention(batch, top, height * width));
        long h = height, w = width;
        int previous = top;
        for (int i = 0; i < n; i++) {
            int out = ch[n - 1 - i];
            for (int j = 0; j <= c.layersPerBlock(); j++) f = f.plus(block.resnet(j == 0 ? previous : out, out, h, w));
            if (i < n - 1) {
                h *= 2;
                w *= 2;
                f = f.plus(Flops.conv(batch, out, out, 3, h, w));
            }
            previous = out;
        }
        return f.plus(Flops.conv(batch, ch[0], c.outChannels(), 3, h, w));
    }

    /** The VAE mid block's single-head self-attention over the positions: q, k, v, out projections and the products. */
    private static Flops vaeAttention(long batch, long channels, long positions) {
        return Flops.linear(batch * positions, channels, channels).times(4).plus(Flops.attention(batch, 1, positions, positions, channels));
    }

    /** A CLIP text encoder on {@code batch} sequences of {@code tokens}; {@code projection}: CLIPTextModelWithProjection's text_projection. */
    public static Flops clipText(CLIPTextConfig c, long batch, long tokens, boolean projection) {
        long d = c.hiddenSize(), rows = batch * tokens;
        Flops layer = Flops.linear(rows, d, d).times(4)
                .plus(Flops.attention(batch, c.heads(), tokens, tokens, d / c.heads()))
                .plus(Flops.linear(rows, d, c.intermediateSize())).plus(Flops.linear(rows, c.intermediateSize(), d));
        Flops f = layer.times(c.layers());
        return projection ? f.plus(Flops.linear(batch, d, c.projectionDim())) : f;
    }

    /** The repeated blocks of one UNet or VAE, with what they share: batch, time embedding width, context length. */
    private record Block(UNetConfig c, long batch, long timeDim, long contextTokens) {
        Block(long batch) {
            this(null, batch, 0, 0);
        }

        /** ResnetBlock2D: conv1, the time embedding's projection (UNet only), conv2, a 1x1 shortcut when the widths differ. */
        Flops resnet(long in, long out, long h, long w) {
            Flops f = Flops.conv(batch, in, out, 3, h, w).plus(Flops.conv(batch, out, out, 3, h, w));
            if (timeDim > 0) f = f.plus(Flops.linear(batch, timeDim, out));
            return in != out ? f.plus(Flops.conv(batch, in, out, 1, h, w)) : f;
        }

        /**
         * Transformer2DModel: proj_in, {@code layers} BasicTransformerBlocks (self-attention, cross-attention on the
         * context, GEGLU feed-forward 4x wide), proj_out (1x1 convolutions unless use_linear_projection, as the model runs them).
         */
        Flops transformer(int channels, int heads, int layers, long h, long w) {
            long tokens = batch * h * w, headDim = channels / heads, inner = heads * headDim, ff = 4 * inner;
            Flops self = Flops.linear(tokens, inner, inner).times(4).plus(Flops.attention(batch, heads, h * w, h * w, headDim));
            Flops cross = Flops.linear(tokens, inner, inner).times(2).plus(Flops.linear(batch * contextTokens, c.crossAttentionDim(), inner).times(2))
                    .plus(Flops.attention(batch, heads, h * w, contextTokens, headDim));
            Flops feedForward = Flops.linear(tokens, inner, 2 * ff).plus(Flops.linear(tokens, ff, inner));
            Flops projections = c.useLinearProjection()
                    ? Flops.linear(tokens, channels, inner).plus(Flops.linear(tokens, inner, channels))
                    : Flops.conv(batch, channels, inner, 1, h, w).plus(Flops.conv(batch, inner, channels, 1, h, w));
            return projections.plus(self.plus(cross).plus(feedForward).times(layers));
        }
    }
}
