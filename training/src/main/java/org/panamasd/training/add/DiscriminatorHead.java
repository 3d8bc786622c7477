package org.panamasd.training.add;

import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/**
 * One StyleGAN-T discriminator head (Sauer et al. 2023, ADD sec. 3.2; StyleGAN-T's DiscHead) on the tokens of
 * one feature layer: a spectral-norm conv (kernel 1) block, a residual block with a kernel-9 conv, each
 * block conv -> BatchNormLocal (where {@link HeadNorm} says) -> LeakyReLU 0.2, then a spectral-norm conv to {@code cmapDim} channels and a
 * projection on the condition: logit_n = <h_n, cmap(c)> / sqrt(cmapDim) for every token n.
 */
final class DiscriminatorHead {
    private final SpectralNormConv1d conv1, conv9, out;
    private final BatchNormLocal norm1, norm9;
    private final Linear cmapper;
    private final long cmapDim;

    DiscriminatorHead(Weights w, String prefix, long channels, long conditionDim, long cmapDim, HeadNorm norm, Scope state,
                      Generator generator, java.util.Map<String, Tensor> buffers) {
        this.conv1 = new SpectralNormConv1d(w, prefix + ".main.0.conv", channels, channels, 1, state, generator, buffers);
        this.norm1 = norm.normalisesFirstBlock() ? new BatchNormLocal(w, prefix + ".main.0.norm", channels, 8) : null;
        this.conv9 = new SpectralNormConv1d(w, prefix + ".main.1.fn.conv", channels, channels, 9, state, generator, buffers);
        this.norm9 = norm.normalisesResidualBlock() ? new BatchNormLocal(w, prefix + ".main.1.fn.norm", channels, 8) : null;
        this.out = new SpectralNormConv1d(w, prefix + ".cls", channels, cmapDim, 1, state, generator, buffers);
        this.cmapper = new Linear(w, prefix + ".cmapper", conditionDim, cmapDim, true);
        this.cmapDim = cmapDim;
    }

    /** tokens (B, N, C), condition (B, c) -> logits (B, N). */
    Tensor forward(Tensor tokens, Tensor condition, boolean training) {
        Tensor x = tokens.transpose(1, 2);                                                      // (B, C, N)
        Tensor h = normalise(norm1, conv1.forward(x, training)).leakyRelu(0.2);
        Tensor r = normalise(norm9, conv9.forward(h, training)).leakyRelu(0.2);
        h = h.add(r).mul(1 / Math.sqrt(2));                                                     // residual, variance kept
        Tensor projected = out.forward(h, training);                                            // (B, cmap, N)
        Tensor cmap = cmapper.forward(condition).unsqueeze(2);                                  // (B, cmap, 1)
        return projected.mul(cmap).sum(new long[] {1}, false).mul(1 / Math.sqrt(cmapDim));   // (B, N)
    }

    private static Tensor normalise(BatchNormLocal norm, Tensor x) {
        return norm == null ? x : norm.forward(x);
    }
}
