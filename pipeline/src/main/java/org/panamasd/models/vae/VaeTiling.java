package org.panamasd.models.vae;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * Decoding and encoding tile by tile, as diffusers' {@code enable_tiling()} does: the input is cut into
 * overlapping square tiles (a quarter of a tile overlaps its neighbour), each goes through the decoder or
 * encoder alone, each tile's top and left edges are blended linearly into the tiles above and to its left,
 * and the blended tiles are cropped and joined. Peak memory is then one tile's activations, whatever the
 * image size. Tiles are normalised on their own (GroupNorm statistics per tile), so the result differs from
 * the whole-image pass by a little, most visibly in flat areas.
 */
public final class VaeTiling {
    private static final double OVERLAP = 0.25;

    /**
     * Images of more pixels than this (1024 x 1024, SDXL's size) go by tiles in {@link Mode#AUTO}: a whole
     * decode there needs about 4 GB of activations; below it, the whole pass (what diffusers does unless
     * tiling is enabled) keeps parity with the reference.
     */
    public static final long AUTO_ABOVE_PIXELS = 1024L * 1024;

    /** When decode and encode go by tiles. */
    public enum Mode {
        /** Only images above {@link #AUTO_ABOVE_PIXELS} that are larger than one tile. */
        AUTO,
        ALWAYS,
        NEVER
    }

    private final Mode mode;
    private final int latentTile;
    private final int downscale;

    /**
     * @param latentTile the tile edge in latents (the image tile is {@code downscale} times larger); diffusers
     *     uses the config's {@code sample_size / downscale}
     */
    public VaeTiling(Mode mode, int latentTile, int downscale) {
        if (latentTile < 4) throw new IllegalArgumentException("a VAE tile of " + latentTile + " latents is too small to overlap (>= 4)");
        this.mode = mode;
        this.latentTile = latentTile;
        this.downscale = downscale;
    }

    /** diffusers' default tile for a config: {@code sample_size} pixels. */
    public static VaeTiling forConfig(VaeConfig config, Mode mode) {
        return forConfig(config, mode, 0);
    }

    /** Tiles of {@code tilePixels} (a multiple of the config's downscale), or diffusers' default when 0. */
    public static VaeTiling forConfig(VaeConfig config, Mode mode, int tilePixels) {
        if (tilePixels == 0) return new VaeTiling(mode, Math.max(4, config.sampleSize() / config.downscale()), config.downscale());
        if (tilePixels < 0 || tilePixels % config.downscale() != 0)
            throw new IllegalArgumentException("a VAE tile of " + tilePixels + " pixels is not a positive multiple of the VAE's downscale " + config.downscale());
        return new VaeTiling(mode, tilePixels / config.downscale(), config.downscale());
    }

    /** The mode from its option spelling: auto, always or never. */
    public static Mode mode(String spelling) {
        for (Mode m : Mode.values()) if (m.name().equalsIgnoreCase(spelling)) return m;
        throw new IllegalArgumentException("VAE tiling '" + spelling + "': expected auto, always or never");
    }

    public Mode mode() {
        return mode;
    }

    /** The image tile's edge in pixels. */
    public long imageTile() {
        return (long) latentTile * downscale;
    }

    /** Whether a latent (B, C, h, w) is decoded by tiles. */
    public boolean tilesLatents(Tensor latents) {
        return tiles(latents.size(2) * downscale, latents.size(3) * downscale);
    }

    /** Whether an image (B, C, H, W) is encoded by tiles. */
    public boolean tilesImage(Tensor image) {
        return tiles(image.size(2), image.size(3));
    }

    private boolean tiles(long height, long width) {
        long imageTile = imageTile();
        return switch (mode) {
            case NEVER -> false;
            case ALWAYS -> true;
            case AUTO -> height * width > AUTO_ABOVE_PIXELS && (height > imageTile || width > imageTile);
        };
    }

    /** latents -> image, each latent tile through {@code decodeTile}. */
    public Tensor decode(Tensor latents, UnaryOperator<Tensor> decodeTile) {
        int imageTile = latentTile * downscale;
        return tiled(latents, latentTile, (int) (latentTile * (1 - OVERLAP)), (int) (imageTile * OVERLAP), imageTile, decodeTile);
    }

    /** image -> moments, each image tile through {@code encodeTile}. */
    public Tensor encode(Tensor image, UnaryOperator<Tensor> encodeTile) {
        int imageTile = latentTile * downscale;
        return tiled(image, imageTile, (int) (imageTile * (1 - OVERLAP)), (int) (latentTile * OVERLAP), latentTile, encodeTile);
    }

    /**
     * Tiles of {@code tile} input rows and columns every {@code stride}; their outputs, blended over
     * {@code blend} rows and columns, keep their first {@code outTile - blend} rows and columns.
     */
    private static Tensor tiled(Tensor input, int tile, int stride, int blend, int outTile, UnaryOperator<Tensor> pass) {
        long height = input.size(2), width = input.size(3);
        int limit = outTile - blend;
        return Scope.returning(() -> {
            List<List<Tensor>> rows = new ArrayList<>();
            for (long i = 0; i < height; i += stride) {
                List<Tensor> row = new ArrayList<>();
                for (long j = 0; j < width; j += stride) {
                    long top = i, left = j;
                    row.add(Scope.returning(() -> pass.apply(input.narrow(2, top, Math.min(tile, height - top)).narrow(3, left, Math.min(tile, width - left)))));
                }
                rows.add(row);
            }
            List<Tensor> joinedRows = new ArrayList<>();
            for (int i = 0; i < rows.size(); i++) {
                List<Tensor> row = rows.get(i);
                List<Tensor> cropped = new ArrayList<>();
                for (int j = 0; j < row.size(); j++) {
                    // blended tiles replace the originals: the next row and the next column blend into them (as diffusers does in place)
                    Tensor t = row.get(j);
                    if (i > 0) t = blend(rows.get(i - 1).get(j), t, blend, 2);
                    if (j > 0) t = blend(row.get(j - 1), t, blend, 3);
                    row.set(j, t);
                    cropped.add(t.narrow(2, 0, Math.min(limit, t.size(2))).narrow(3, 0, Math.min(limit, t.size(3))));
                }
                joinedRows.add(Tensor.cat(3, cropped.toArray(Tensor[]::new)));
            }
            return Tensor.cat(2, joinedRows.toArray(Tensor[]::new)).contiguous();
        });
    }

    /**
     * b with its first {@code extent} rows (dim 2) or columns (dim 3) faded in from a's last ones:
     * b[k] = a[end - extent + k] (1 - k / extent) + b[k] k / extent.
     */
    private static Tensor blend(Tensor a, Tensor b, int extent, int dim) {
        int n = (int) Math.min(extent, Math.min(a.size(dim), b.size(dim)));
        if (n == 0) return b;
        long[] rampShape = {1, 1, 1, 1};
        rampShape[dim] = n;
        Tensor ramp = Tensor.arange(0, n, 1, DType.FLOAT32).div((double) extent).to(b.dtype()).reshape(rampShape);
        Tensor faded = a.narrow(dim, a.size(dim) - n, n).mul(ramp.rsub(1.0)).add(b.narrow(dim, 0, n).mul(ramp));
        return Tensor.cat(dim, faded, b.narrow(dim, n, b.size(dim) - n));
    }
}
