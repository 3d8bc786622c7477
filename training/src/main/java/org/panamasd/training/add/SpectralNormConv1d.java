package org.panamasd.training.add;

import org.panamasd.Autograd;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.Weights;

/**
 * A 1-D convolution over tokens with a spectrally normalised weight (Miyato et al. 2018): W / sigma(W), sigma
 * estimated by one power iteration per training call on the weight reshaped to (out, in k), the singular
 * vector kept between calls. Padding is circular, as StyleGAN-T's discriminator heads use it.
 */
final class SpectralNormConv1d {
    private final Tensor weight, bias;
    private final Tensor u;  // the left singular vector estimate (out,), no gradient
    private final int kernel;

    SpectralNormConv1d(Weights w, String prefix, long in, long out, int kernel, Scope state, Generator generator,
                       java.util.Map<String, Tensor> buffers) {
        this.weight = w.get(prefix + ".weight", out, in, kernel);
        this.bias = w.get(prefix + ".bias", out);
        this.kernel = kernel;
        try (Scope s = Scope.open()) {
            Tensor v = Tensor.randn(generator, out);
            this.u = v.div(v.pow(2).sum().sqrt().item() + 1e-12).moveTo(state);
        }
        buffers.put(prefix + ".weight_u", u);  // torch's spectral_norm name: checkpointed, so a resumed run continues the iteration
    }

    /** x (B, C, N) -> (B, out, N); {@code training} advances the power iteration. */
    Tensor forward(Tensor x, boolean training) {
        Tensor matrix = weight.reshape(weight.size(0), -1);
        if (training) {
            try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
                Tensor v = normalize(matrix.detach().transpose(0, 1).matmul(u));
                u.copyFrom(normalize(matrix.detach().matmul(v)));
            }
        }
        Tensor uNow, v;
        try (var frozen = Autograd.noGrad()) {
            uNow = u.copy();  // a snapshot: a later training call updates u in place while this graph still needs it
            v = normalize(matrix.detach().transpose(0, 1).matmul(uNow));
        }
        Tensor sigma = uNow.unsqueeze(0).matmul(matrix).matmul(v.unsqueeze(1)).reshape();  // u^T W v, with a gradient through W
        Tensor normalized = weight.div(sigma);
        int pad = kernel / 2;
        Tensor input = pad == 0 ? x : Tensor.cat(2, x.narrow(2, x.size(2) - pad, pad), x, x.narrow(2, 0, pad));
        Tensor y = Functional.conv2d(input.unsqueeze(2), normalized.unsqueeze(2), bias, 1, 0);  // (B, out, 1, N)
        return y.squeeze(2);
    }

    private static Tensor normalize(Tensor v) {
        return v.div(v.pow(2).sum().sqrt().add(1e-12));
    }
}
