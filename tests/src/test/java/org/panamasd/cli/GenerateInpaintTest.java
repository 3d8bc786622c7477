package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.ImageFiles;
import org.panamasd.support.NativeTest;

/**
 * {@code generate --image --mask} with the shipped Turbo student, a 4-channel UNet, so the run blends: outside
 * the mask the latents are reset to the image's after every step, the last time to the image latents
 * themselves. The init image is white on its left half; Fashion-MNIST models draw on black, so a run that
 * ignored the mask (or repainted everywhere) turns the kept left edge dark, and one that keeps it leaves it as light
 * as the VAE reconstructs it (a mask that repaints nothing gives that reconstruction).
 */
class GenerateInpaintTest extends NativeTest {

    @Test
    void theKeptRegionStaysAndTheMaskedOneIsRepainted(@TempDir Path dir) {
        Path image = dir.resolve("init.png"), mask = dir.resolve("mask.png"), out = dir.resolve("out.png");
        try (Scope s = Scope.open()) {
            ImageFiles.writePng(halves(1, 0).expand(1, 3, 32, 32), image);  // white left, black right
            ImageFiles.writePng(halves(0, 1).expand(1, 3, 32, 32), mask);   // repaint the right half
            CliRun run = CliRun.of("generate", "--prompt", "a photo of a bag", "--image", image.toString(), "--mask", mask.toString(),
                    "--steps", "2", "--upscale", "1", "--out", out.toString());
            assertEquals(0, run.exitCode(), run.toString());
            Tensor result = ImageFiles.readRgb(out);
            assertArrayEquals(new long[] {1, 3, 32, 32}, result.shape(), "the output has the image's size");
            double keptEdge = result.narrow(3, 0, 8).mean().item();
            // the reference: a mask that repaints nothing gives the VAE's own reconstruction of the image (about 0.8 at the
            // white edge: this VAE never saw large white areas)
            Path keepAll = dir.resolve("keep.png");
            ImageFiles.writePng(Tensor.zeros(1, 3, 32, 32), keepAll);
            CliRun kept = CliRun.of("generate", "--prompt", "a photo of a bag", "--image", image.toString(), "--mask", keepAll.toString(),
                    "--steps", "2", "--upscale", "1", "--out", dir.resolve("reconstructed.png").toString());
            assertEquals(0, kept.exitCode(), kept.toString());
            double reconstructedEdge = ImageFiles.readRgb(dir.resolve("reconstructed.png")).narrow(3, 0, 8).mean().item();
            assertTrue(reconstructedEdge > 0.7, "the VAE reconstructs the white edge light: mean " + reconstructedEdge);
            assertTrue(keptEdge > reconstructedEdge - 0.05, "the kept left edge stays as light as the VAE reconstructs it: mean " + keptEdge
                    + " against " + reconstructedEdge);
            CliRun unmasked = CliRun.of("generate", "--prompt", "a photo of a bag", "--image", image.toString(), "--strength", "1",
                    "--steps", "2", "--upscale", "1", "--out", dir.resolve("plain.png").toString());
            assertEquals(0, unmasked.exitCode(), unmasked.toString());
            double unmaskedEdge = ImageFiles.readRgb(dir.resolve("plain.png")).narrow(3, 0, 8).mean().item();
            assertTrue(unmaskedEdge < 0.5, "without the mask strength 1 repaints the edge too (the control): mean " + unmaskedEdge);
        }
    }

    @Test
    void aMaskOfAnotherSizeOrWithoutAnImageIsRefusedNamingTheFiles(@TempDir Path dir) {
        Path image = dir.resolve("init.png"), mask = dir.resolve("mask.png");
        try (Scope s = Scope.open()) {
            ImageFiles.writePng(Tensor.ones(1, 3, 32, 32), image);
            ImageFiles.writePng(Tensor.ones(1, 3, 24, 32), mask);
        }
        CliRun wrongSize = CliRun.of("generate", "--prompt", "x", "--image", image.toString(), "--mask", mask.toString(), "--steps", "1");
        assertEquals(2, wrongSize.exitCode(), wrongSize.toString());
        assertTrue(wrongSize.err().contains(mask.toString()) && wrongSize.err().contains(image.toString()) && wrongSize.err().contains("32x24"),
                wrongSize.err());
        CliRun noImage = CliRun.of("generate", "--prompt", "x", "--mask", mask.toString());
        assertEquals(2, noImage.exitCode(), noImage.toString());
        assertTrue(noImage.err().contains("--mask") && noImage.err().contains("--image"), noImage.err());
    }

    /** (1, 1, 32, 32): {@code left} on the left half, {@code right} on the right. */
    private static Tensor halves(double left, double right) {
        return Tensor.cat(3, Tensor.full(left, 1, 1, 32, 16), Tensor.full(right, 1, 1, 32, 16));
    }
}
