package org.panamasd.io;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import javax.imageio.ImageIO;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/** Images to and from tensors: (1, 3, H, W) float in [0, 1], NCHW, as the pipelines produce and take them. */
public final class ImageFiles {

    /** Writes an 8-bit RGB PNG through a temporary file moved into place, so no half-written file is left ({@link AtomicFile}). */
    public static void writePng(Tensor image, Path file) {
        writePng(image, file, Map.of());
    }

    /**
     * As {@link #writePng(Tensor, Path)}, with {@code text} as PNG text chunks: {@code tEXt} when the value is
     * Latin-1 (what the PNG spec allows there), {@code iTXt} (UTF-8) after them otherwise, so any prompt survives.
     * Keywords must be 1-79 Latin-1 characters, as the spec says.
     */
    public static void writePng(Tensor image, Path file, Map<String, String> text) {
        BufferedImage picture = picture(image);
        try {
            AtomicFile.write(file, temporary -> PngText.write(picture, text, temporary));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** A (1, 3, H, W) image in [0, 1] as the bytes of an 8-bit RGB PNG, without text (what a service sends). */
    public static byte[] pngBytes(Tensor image) {
        return pngBytes(picture(image));
    }

    /** The bytes of a PNG of {@code picture}; no tensor involved, so any thread may encode while the model runs on. */
    public static byte[] pngBytes(BufferedImage picture) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try {
            if (!ImageIO.write(picture, "png", out)) throw new IOException("no PNG writer");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode a PNG", e);
        }
        return out.toByteArray();
    }

    /** A (1, 3, H, W) image in [0, 1] as 8-bit RGB. */
    public static BufferedImage picture(Tensor image) {
        long[] shape = image.shape();
        if (shape.length != 4 || shape[0] != 1 || shape[1] != 3)
            throw new IllegalArgumentException("a PNG needs a (1, 3, H, W) image, got " + Arrays.toString(shape));
        int h = (int) shape[2], w = (int) shape[3];
        byte[] rgb;
        try (Scope scope = Scope.open()) {
            Tensor bytes = image.get(0).mul(255).round().clamp(0, 255).permute(1, 2, 0).contiguous().to(DType.UINT8);  // (H, W, 3)
            rgb = bytes.data().toArray(ValueLayout.JAVA_BYTE);
        }
        BufferedImage picture = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * 3;
                picture.setRGB(x, y, (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | (rgb[i + 2] & 0xff));
            }
        return picture;
    }

    /** Reads an image file as (1, 3, H, W) float32 in [0, 1], in the current scope. */
    public static Tensor readRgb(Path file) {
        BufferedImage picture = read(file);
        return Tensor.of(rgb(picture), 1, 3, picture.getHeight(), picture.getWidth());
    }

    /** A picture's channels, (3, H, W) row-major in [0, 1] (plain Java: no tensor, no scope). */
    public static float[] rgb(BufferedImage picture) {
        int h = picture.getHeight(), w = picture.getWidth();
        float[] chw = new float[3 * h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int p = picture.getRGB(x, y);
                chw[y * w + x] = ((p >> 16) & 0xff) / 255f;
                chw[h * w + y * w + x] = ((p >> 8) & 0xff) / 255f;
                chw[2 * h * w + y * w + x] = (p & 0xff) / 255f;
            }
        return chw;
    }

    /**
     * Reads an image file as one grey channel (1, 1, H, W) float32 in [0, 1], in the current scope: an
     * inpainting mask. Colour is made grey as PIL's convert("L") does (ITU-R 601-2 luma, rounded to 8 bits), as
     * the reference's mask processor does.
     */
    public static Tensor readGrey(Path file) {
        BufferedImage picture = read(file);
        return Tensor.of(grey(picture), 1, 1, picture.getHeight(), picture.getWidth());
    }

    /** A picture as one grey channel (H, W) in [0, 1], as PIL's convert("L") (plain Java: no tensor, no scope). */
    public static float[] grey(BufferedImage picture) {
        int h = picture.getHeight(), w = picture.getWidth();
        float[] grey = new float[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int p = picture.getRGB(x, y);
                int luma = (((p >> 16) & 0xff) * 19595 + ((p >> 8) & 0xff) * 38470 + (p & 0xff) * 7471 + 0x8000) >> 16;
                grey[y * w + x] = luma / 255f;
            }
        return grey;
    }

    private static BufferedImage read(Path file) {
        BufferedImage picture;
        try {
            picture = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (picture == null) throw new IllegalArgumentException(file + " is not an image ImageIO can read");
        return picture;
    }

    private ImageFiles() {}
}
