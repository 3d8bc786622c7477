package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.RandomWeights;
import org.panamasd.support.NativeTest;

/** The discriminator's parts against their definitions. */
class DiscriminatorPartsTest extends NativeTest {

    @Test
    void spectralNormalisationBringsTheTopSingularValueToOne() {
        try (Scope scope = Scope.open(); RandomWeights w = new RandomWeights(1); Generator g = new Generator(2); Scope state = Scope.detached()) {
            java.util.Map<String, Tensor> buffers = new java.util.HashMap<>();
            SpectralNormConv1d conv = new SpectralNormConv1d(w, "c", 6, 5, 1, state, g, buffers);
            assertEquals(java.util.Set.of("c.weight_u"), buffers.keySet());
            // with kernel 1 and no bias the layer is W/sigma applied per token; its gain on the top singular vector -> 1
            Tensor x = Tensor.randn(g, 1, 6, 1);
            for (int i = 0; i < 30; i++) conv.forward(x, true);  // power iterations converge
            Tensor matrix = w.parameters().get("c.weight").detach().reshape(5, 6);
            double sigma = 0;
            Tensor v = Tensor.randn(g, 6);
            for (int i = 0; i < 200; i++) {
                v = matrix.transpose(0, 1).matmul(matrix.matmul(v));
                v = v.div(v.pow(2).sum().sqrt().item());
            }
            sigma = matrix.matmul(v).pow(2).sum().sqrt().item();
            Tensor y = conv.forward(v.reshape(1, 6, 1), false);
            assertClose(1.0, y.pow(2).sum().sqrt().item(), 1e-3);  // |W v / sigma| = 1 for the top right singular vector v
            assertTrue(sigma > 0);
        }
    }

    @Test
    void batchNormLocalNormalisesEachGroupOfEight() {
        try (Scope scope = Scope.open(); RandomWeights w = new RandomWeights(1); Generator g = new Generator(3)) {
            BatchNormLocal norm = new BatchNormLocal(w, "n", 2, 8);
            Tensor x = Tensor.randn(g, 16, 2, 5).mul(3).add(Tensor.of(new double[] {0, 10}, 1, 2, 1).to(org.panamasd.DType.FLOAT32));
            Tensor y = norm.forward(x).reshape(2, 8, 2, 5);
            double[] means = y.mean(new long[] {1, 3}, false).toDoubleArray(), vars = y.var(new long[] {1, 3}, 0, false).toDoubleArray();
            assertClose(new double[] {0, 0, 0, 0}, means, 1e-5, 0);
            assertClose(new double[] {1, 1, 1, 1}, vars, 1e-3, 0);
        }
    }

    @Test
    void headsGivePerTokenLogitsAndTheirGradientReachesTheFeatures() {
        try (Scope scope = Scope.open(); ProjectedDiscriminator d = new ProjectedDiscriminator(new int[] {0, 2}, 8, 4, 6, HeadNorm.LOCAL, 5); Generator g = new Generator(6)) {
            List<Tensor> hidden = List.of(Tensor.randn(g, 8, 5, 8), Tensor.randn(g, 8, 5, 8), Tensor.randn(g, 8, 5, 8).requiresGrad(true));
            Tensor logits = d.logits(d.select(hidden), Tensor.randn(g, 8, 4), true);
            assertArrayEquals(new long[] {8, 10}, logits.shape());  // two heads of 5 tokens
            Tensor grad = Autograd.grad(logits.sum(), List.of(hidden.get(2)), false)[0];
            assertTrue(grad.abs().sum().item() > 0, "the generator's gradient flows through the heads into the features");
            var e = assertThrows(IllegalArgumentException.class, () -> d.select(hidden.subList(0, 2)));
            assertTrue(e.getMessage().contains("layer 2"), e.getMessage());
        }
    }

    @Test
    void augmentationKeepsShapeAndGradient() {
        try (Scope scope = Scope.open(); Generator g = new Generator(7)) {
            Tensor images = Tensor.rand(g, 4, 3, 16, 16).mul(2).sub(1).requiresGrad(true);
            Tensor out = DiffAugment.apply(images, g);
            assertArrayEquals(images.shape(), out.shape());
            Tensor grad = Autograd.grad(out.sum(), List.of(images), false)[0];
            assertTrue(grad.abs().sum().item() > 0);
            assertTrue(out.sub(images).abs().max().item() > 0, "the images changed");
        }
    }

    @Test
    void distillationWeightings() {
        assertEquals(0.3, DistillationWeighting.EXPONENTIAL.weight(0.3), 1e-15);
        assertEquals(Math.sqrt(0.3 * 0.7) / 2, DistillationWeighting.SDS.weight(0.3), 1e-15);
        assertEquals(1.0, DistillationWeighting.UNIFORM.weight(0.3));
        assertEquals(DistillationWeighting.SDS, DistillationWeighting.fromName("sds"));
        assertEquals(DistillationWeighting.NFSD, DistillationWeighting.fromName("nfsd"));
        assertEquals(Math.sqrt(0.7) / 2, DistillationWeighting.NFSD.weight(0.3), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> DistillationWeighting.fromName("score"));
    }
}
