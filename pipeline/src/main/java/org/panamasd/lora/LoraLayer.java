package org.panamasd.lora;

import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * One adapted layer of a LoRA (Hu et al. 2021): W' = W + scale (alpha / rank) up down, with down (rank, in ...)
 * and up (out, rank ...). {@code component} is the model it adapts ({@code unet}, {@code text_encoder},
 * {@code text_encoder_2}); {@code module} is the module's path in it, or, for a kohya file, its name with every
 * '.' written '_', resolved against the model's module names when the adapter is applied ({@code kohyaName}).
 */
public record LoraLayer(String component, String module, boolean kohyaName, String fileKey, Tensor down, Tensor up, double alpha) {

    public long rank() {
        return down.size(0);
    }

    /** (alpha / rank) up down in float32, shaped as {@code weightShape} (a Linear's (out, in) or a 1x1 conv's (out, in, 1, 1)). */
    public Tensor delta(long[] weightShape) {
        Tensor product = up.to(DType.FLOAT32).flatten(1, up.dim() - 1).matmul(down.to(DType.FLOAT32).flatten(1, down.dim() - 1));
        return product.mul(alpha / rank()).reshape(weightShape);
    }
}
