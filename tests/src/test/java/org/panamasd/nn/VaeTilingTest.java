package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.models.vae.VaeTiling;
import org.panamasd.support.NativeTest;

class VaeTilingTest extends NativeTest {
    private static final Path TEACHER_VAE = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher/vae");

    /** Nearest 8x enlargement times 2: where tiles overlap they agree, so any blend must give back the whole-image result. */
    private static Tensor pointwiseDecoder(Tensor latents) {
        return Functional.interpolate(latents, 8.0, 8.0, Functional.Interpolation.NEAREST, null).mul(2f);
    }

    @Test
    void tilesCoverTheImageExactlyOnceWhenNeighboursAgree() {
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            VaeTiling tiling = new VaeTiling(VaeTiling.Mode.ALWAYS, 8, 8);
            for (long[] size : new long[][] {{8, 8}, {20, 13}, {16, 40}, {5, 9}}) {
                Tensor latents = Tensor.randn(g, 2, 4, size[0], size[1]);
                Tensor whole = pointwiseDecoder(latents), tiled = tiling.decode(latents, VaeTilingTest::pointwiseDecoder);
                assertArrayEquals(whole.shape(), tiled.shape(), "shape for latents " + size[0] + "x" + size[1]);
                assertClose(whole.toDoubleArray(), tiled.toDoubleArray(), 1e-6, 1e-6);
                Tensor image = Tensor.randn(g, 1, 3, size[0] * 8, size[1] * 8);
                Tensor pooled = Functional.avgPool2d(image, 8, 8);
                // encoding by tiles: 8x8 average pooling is local too
                assertClose(pooled.toDoubleArray(), tiling.encode(image, t -> Functional.avgPool2d(t, 8, 8)).toDoubleArray(), 1e-6, 1e-6);
            }
        }
    }

    @Test
    void blendingFadesLinearlyAcrossTheOverlap() {
        // a "decoder" that reports which tile it saw: each tile decodes to a constant, its top-left input value
        try (Scope s = Scope.open()) {
            VaeTiling tiling = new VaeTiling(VaeTiling.Mode.ALWAYS, 8, 1);
            Tensor ramp = Tensor.arange(0, 12, 1, org.panamasd.DType.FLOAT32).reshape(1, 1, 1, 12).expand(1, 1, 8, 12).contiguous();
            Tensor out = tiling.decode(ramp, t -> Tensor.zeros(t.shape()).add(t.narrow(3, 0, 1).narrow(2, 0, 1)));
            // tiles start every 6 columns (8 * 0.75): tile 0 is 0, tile 1 is 6; blend over 2 columns (8 * 0.25)
            // of tile 1: column 6 = 0 * (1 - 0/2) + 6 * 0/2 = 0, column 7 = 0 * 1/2 + 6 * 1/2 = 3, then 6
            double[] row = out.narrow(2, 0, 1).flatten(0, -1).toDoubleArray();
            assertArrayEquals(new double[] {0, 0, 0, 0, 0, 0, 0, 3, 6, 6, 6, 6}, row, 1e-6);
        }
    }

    @Test
    void theRealDecoderByTilesStaysCloseToTheWholePass() {
        try (AutoencoderKL vae = AutoencoderKL.load(TEACHER_VAE); Scope s = Scope.open(); Generator g = new Generator(4); var off = Autograd.noGrad()) {
            // 32x32 latents: twice the VAE's sample_size each way, 3 x 3 tiles of 16 latents (diffusers' tile for this config)
            Tensor latents = Tensor.randn(g, 1, 4, 32, 32);
            Tensor tiled = vae.tiling(VaeTiling.forConfig(vae.config(), VaeTiling.Mode.ALWAYS)).decode(latents);
            Tensor whole = vae.tiling(VaeTiling.forConfig(vae.config(), VaeTiling.Mode.NEVER)).decode(latents);
            assertArrayEquals(whole.shape(), tiled.shape());
            // tiles normalise on their own, so they differ somewhat (a misplaced or unblended tile gives < 10 dB)
            double mse = tiled.sub(whole).pow(2.0).mean().item();
            double psnr = 10 * Math.log10(4 / mse);  // over the [-1, 1] range
            assertTrue(psnr > 20, "tiled decode PSNR " + psnr + " dB against the whole pass");
        }
    }

    @Test
    void autoTilesOnlyImagesAboveAMegapixel() {
        try (Scope s = Scope.open()) {
            VaeTiling auto = new VaeTiling(VaeTiling.Mode.AUTO, 64, 8);  // SD 1.5's VAE: 512-pixel tiles
            assertFalse(auto.tilesLatents(Tensor.zeros(1, 4, 128, 128)), "1024 x 1024: the whole pass");
            assertTrue(auto.tilesLatents(Tensor.zeros(1, 4, 128, 136)));
            assertFalse(auto.tilesImage(Tensor.zeros(1, 3, 1024, 1024)));
            assertTrue(auto.tilesImage(Tensor.zeros(1, 3, 1032, 1024)));
            VaeTiling bigTiles = new VaeTiling(VaeTiling.Mode.AUTO, 256, 8);
            assertFalse(bigTiles.tilesLatents(Tensor.zeros(1, 4, 200, 200)), "within one tile: nothing to gain");
        }
    }
}
