package org.panamasd.data;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.panamasd.Generator;
import org.panamasd.Tensor;

/**
 * Fashion-MNIST (Xiao et al. 2017) from its IDX files, as Debian's dataset-fashion-mnist installs them in
 * /usr/share/datasets/fashion-mnist: 28x28 grey images with labels 0-9, held in Java arrays; batches are made
 * as tensors in [-1, 1].
 */
public final class FashionMnist {
    public static final Path DEBIAN_DIRECTORY = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String[] CLASSES = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

    private final byte[] pixels;
    private final byte[] labels;
    private final int count;

    private FashionMnist(byte[] pixels, byte[] labels) {
        this.pixels = pixels;
        this.labels = labels;
        this.count = labels.length;
    }

    /** The training split (60000 images), or the test split (10000) with {@code train} false. */
    public static FashionMnist load(Path directory, boolean train) {
        String prefix = train ? "train" : "t10k";
        Path images = directory.resolve(prefix + "-images-idx3-ubyte.gz"), labelFile = directory.resolve(prefix + "-labels-idx1-ubyte.gz");
        if (!Files.exists(images) || !Files.exists(labelFile))
            throw new IllegalArgumentException("Fashion-MNIST is not in " + directory + ": install Debian's dataset-fashion-mnist");
        byte[] pixels = read(images, 0x00000803, 28 * 28);
        byte[] labels = read(labelFile, 0x00000801, 1);
        if (pixels.length != labels.length * 28 * 28)
            throw new IllegalArgumentException(images + " holds " + pixels.length / 784 + " images but " + labelFile + " " + labels.length + " labels");
        return new FashionMnist(pixels, labels);
    }

    private static byte[] read(Path file, int magic, int itemBytes) {
        try (InputStream raw = Files.newInputStream(file); DataInputStream in = new DataInputStream(new GZIPInputStream(raw))) {
            int found = in.readInt();
            if (found != magic) throw new IllegalArgumentException(file + ": IDX magic " + Integer.toHexString(found) + ", expected " + Integer.toHexString(magic));
            int items = in.readInt();
            for (int d = 0; d < (magic & 0xff) - 1; d++) in.readInt();  // the remaining dimension sizes
            byte[] data = new byte[Math.multiplyExact(items, itemBytes)];
            in.readFully(data);
            return data;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** The first {@code n} images of this split (all of them when n >= size), for quick runs and tests. */
    public FashionMnist first(int n) {
        if (n >= count) return this;
        if (n < 1) throw new IllegalArgumentException("need at least one image, got " + n);
        return new FashionMnist(java.util.Arrays.copyOf(pixels, n * 784), java.util.Arrays.copyOf(labels, n));
    }

    public int size() {
        return count;
    }

    public int label(int index) {
        return labels[index];
    }

    /** Images {@code indices} as (B, 1, 28, 28) float32 in [-1, 1], in the current scope. */
    public Tensor images(int[] indices) {
        float[] values = new float[indices.length * 784];
        for (int b = 0; b < indices.length; b++)
            for (int p = 0; p < 784; p++) values[b * 784 + p] = (pixels[indices[b] * 784 + p] & 0xff) / 127.5f - 1f;
        return Tensor.of(values, indices.length, 1, 28, 28);
    }

    /**
     * Images {@code indices} as the text-to-image models see them: (B, 3, 32, 32) in [-1, 1], the 28x28 grey
     * image padded with black (-1) by 2 pixels on each side and repeated over RGB, so ordinary RGB tools
     * (image to image, PNG viewers, diffusers' image processor) work on the shipped models unchanged.
     */
    public Tensor paddedRgb(int[] indices) {
        return toPaddedRgb(images(indices));
    }

    /** (B, 1, 28, 28) in [-1, 1] as {@link #paddedRgb} shows it: (B, 3, 32, 32), padded with -1; in the current scope. */
    public static Tensor toPaddedRgb(Tensor grey) {
        return org.panamasd.Functional.pad(grey, new long[] {2, 2, 2, 2}, org.panamasd.Functional.PadMode.CONSTANT, -1).repeat(1, 3, 1, 1);
    }

    public Tensor labels(int[] indices) {
        long[] values = new long[indices.length];
        for (int b = 0; b < indices.length; b++) values[b] = labels[indices[b]];
        return Tensor.of(values, indices.length);
    }

    /** A random batch of indices drawn with {@code generator}. */
    public int[] randomBatch(Generator generator, int batch) {
        return java.util.Arrays.stream(Tensor.randint(0, count, generator, batch).toLongArray()).mapToInt(i -> (int) i).toArray();
    }
}
