package org.panamasd.io;

import java.util.List;
import org.panamasd.Functional;
import org.panamasd.Tensor;

/** Lays images (each (1, 3, h, w) or (n, 3, h, w) in [0, 1]) out as one (1, 3, rows h s, cols w s) picture, upscaled s times. */
public final class ImageGrid {
    private ImageGrid() {}

    /** {@code rows.get(r)} is row r: (cols, 3, h, w). Nearest-neighbour upscaling keeps the pixels of small images sharp. */
    public static Tensor of(List<Tensor> rows, int scale) {
        Tensor[] lines = new Tensor[rows.size()];
        for (int r = 0; r < lines.length; r++) {
            Tensor row = rows.get(r);
            lines[r] = Tensor.cat(3, row.chunk(row.size(0), 0));  // (1, 3, h, cols w)
        }
        return enlarge(Tensor.cat(2, lines), scale);
    }

    /** (n, c, h, w) enlarged {@code scale} times by nearest neighbour, which keeps a small model's pixels sharp. */
    public static Tensor enlarge(Tensor images, long scale) {
        return scale == 1 ? images : Functional.interpolate(images, images.size(2) * scale, images.size(3) * scale, Functional.Interpolation.NEAREST, null);
    }
}
