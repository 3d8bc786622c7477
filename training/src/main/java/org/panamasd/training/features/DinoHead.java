package org.panamasd.training.features;

import org.panamasd.Tensor;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/**
 * DINO's projection head (Caron et al. 2021): an MLP d -> hidden -> hidden -> bottleneck with GELUs between, the
 * result L2-normalised, then a linear map to K prototypes whose weight rows are normalised (weight norm with the
 * gain fixed at 1, DINO's {@code norm_last_layer}), so the logits are cosines and the temperatures alone set how
 * peaked the distributions are. Keys as DINO's {@code DINOHead}: {@code mlp.0}, {@code mlp.2}, {@code mlp.4},
 * {@code last_layer.weight}.
 */
final class DinoHead {
    private final Linear mlp0, mlp2, mlp4;
    private final Tensor prototypes;

    DinoHead(Weights w, String prefix, long in, long hidden, long bottleneck, long prototypeCount) {
        this.mlp0 = new Linear(w, prefix + ".mlp.0", in, hidden, true);
        this.mlp2 = new Linear(w, prefix + ".mlp.2", hidden, hidden, true);
        this.mlp4 = new Linear(w, prefix + ".mlp.4", hidden, bottleneck, true);
        this.prototypes = w.get(prefix + ".last_layer.weight", prototypeCount, bottleneck);
    }

    /** features (B, d) -> prototype logits (B, K), each a cosine in [-1, 1]. */
    Tensor forward(Tensor features) {
        Tensor h = mlp4.forward(mlp2.forward(mlp0.forward(features).gelu()).gelu());
        Tensor unit = h.div(h.pow(2).sum(new long[] {1}, true).sqrt().add(1e-6));
        Tensor rows = prototypes.div(prototypes.pow(2).sum(new long[] {1}, true).sqrt().add(1e-6));
        return unit.matmul(rows.transpose(0, 1));
    }
}
