package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * The probe must tell a blind discriminator from one that sees. The feature "network" is a fixed random linear
 * embedding of 4x4 patches (what a ViT's patch embedding is, without positions), the generator's images are
 * the real images at half contrast. StyleGAN-T's heads normalise right after a linear conv, separately for the
 * real and the generated pass, which divides a per-channel scale away: with {@link HeadNorm#LOCAL} the heads
 * are exactly blind here, without the first norm they see. A generator that draws real images is the control:
 * no head design may see a difference there. The condition is one vector for all (a projection head's logit is
 * its features' product with the condition, so a random condition per sample would hide any verdict).
 */
class DiscriminatorProbeTest extends NativeTest {
    private static final int BATCH = 16, STEPS = 150;

    /** Piecewise-constant 16x16 images (2x2 blocks of +-0.8) with a little noise: sharp edges, mean about 0. */
    private static Tensor realImages(Generator g, int n) {
        Tensor blocks = Tensor.randn(g, n, 3, 8, 8).sign().mul(0.8);
        Tensor sharp = org.panamasd.Functional.interpolate(blocks, 16, 16, org.panamasd.Functional.Interpolation.NEAREST, null);
        return sharp.add(Tensor.randn(g, n, 3, 16, 16).mul(0.1));
    }

    private static Function<Tensor, List<Tensor>> patchEmbedding(Tensor projection) {
        return x -> {
            long b = x.size(0);
            Tensor patches = x.reshape(b, 3, 4, 4, 4, 4).permute(0, 2, 4, 1, 3, 5).reshape(b, 16, 48);
            return List.of(patches.matmul(projection));
        };
    }

    private static DiscriminatorProbe.Result probe(HeadNorm norm, boolean control) {
        return probe(norm, control, HeadGroups.SEPARATE);
    }

    private static DiscriminatorProbe.Result probe(HeadNorm norm, boolean control, HeadGroups groups) {
        try (Scope scope = Scope.open(); Generator g = new Generator(11);
             ProjectedDiscriminator heads = new ProjectedDiscriminator(new int[] {0}, 16, 4, 8, norm, 12)) {
            Tensor projection = Tensor.randn(g, 48, 16).mul(1 / Math.sqrt(48));
            Function<Tensor, Tensor> generator = control ? x -> realImages(g, (int) x.size(0)) : x -> x.mul(0.5);
            Tensor heldOutReal = realImages(g, 128);
            DiscriminatorProbe.Images heldOut = new DiscriminatorProbe.Images(heldOutReal, generator.apply(realImages(g, 128)), Tensor.ones(128, 4));
            try (DiscriminatorTrainer trainer = new DiscriminatorTrainer(heads, patchEmbedding(projection), 2e-3, 0.0, false, groups)) {
                return DiscriminatorProbe.run(trainer, (step, gen) -> {
                    Tensor real = realImages(gen, BATCH);
                    return new DiscriminatorProbe.Images(real, generator.apply(realImages(gen, BATCH)), Tensor.ones(BATCH, 4));
                }, heldOut, STEPS, 50, BATCH, 13, point -> {});
            }
        }
    }

    @Test
    void styleGanHeadsAreBlindToLostContrastOnLinearFeatures() {
        DiscriminatorProbe.Result result = probe(HeadNorm.LOCAL, false);
        assertFalse(result.sees(), result.last().toString());
        assertEquals(0.5, result.last().accuracy(), 0.1, "the normalised heads cannot separate x from x/2: " + result.last());
    }

    @Test
    void headsWithoutTheFirstNormSeeLostContrast() {
        DiscriminatorProbe.Result result = probe(HeadNorm.SKIP_FIRST, false);
        assertTrue(result.sees(), result.last().toString());
        assertTrue(result.last().meanRealLogit() > result.last().meanFakeLogit(), result.last().toString());
        assertEquals(3, result.curve().size(), "judged at steps 50, 100, 150");
    }

    @Test
    void noHeadSeesADifferenceThatIsNotThere() {
        for (HeadNorm norm : new HeadNorm[] {HeadNorm.SKIP_FIRST, HeadNorm.NONE}) {
            DiscriminatorProbe.Result result = probe(norm, true);
            assertFalse(result.sees(), norm + ": " + result.last());
        }
    }

    @Test
    void styleGanHeadsSeeLostContrastWhenEachNormGroupHoldsRealAndGenerated() {
        DiscriminatorProbe.Result result = probe(HeadNorm.LOCAL, false, HeadGroups.MIXED);
        assertTrue(result.sees(), "the same heads that are blind in separate passes: " + result.last());
        assertTrue(result.last().meanRealLogit() > result.last().meanFakeLogit(), result.last().toString());
        assertFalse(probe(HeadNorm.LOCAL, true, HeadGroups.MIXED).sees(), "and still see no difference that is not there");
    }
}
