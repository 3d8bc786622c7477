package org.panamasd.benchmark;

import org.panamasd.DType;
import org.panamasd.models.vae.VaeTiling;
import org.panamasd.nn.WeightFormat;

/**
 * What one bench-model run measures: latents of {@code latent} x {@code latent} (the image is 8x that), the
 * UNet and the text encoders at {@code batch} rows (2: classifier-free guidance's pair), the VAE decoding
 * {@code vaeBatch} latents; {@code warmup} untimed calls, then {@code repeat} timed repeats of {@code steps} UNet
 * steps (of one call for the VAE and CLIP); with {@code profile}, one more repeat timed op by op. The models
 * compute in {@code dtype} (their weights converted at load, {@link org.panamasd.nn.Precision}); the VAE tiles as
 * {@code vaeTiling} says, with tiles of {@code vaeTile} pixels (0: the config's sample_size); the UNet and text
 * encoders keep their linear and convolution weights in {@code weights} ({@link WeightFormat}).
 */
public record BenchSettings(int latent, int batch, int vaeBatch, int steps, int repeat, int warmup, boolean profile, DType dtype,
                            VaeTiling.Mode vaeTiling, int vaeTile, WeightFormat weights) {
    public BenchSettings {
        if (latent < 1 || batch < 1 || vaeBatch < 1 || steps < 1 || repeat < 1 || warmup < 0)
            throw new IllegalArgumentException("latent, batch, vae batch, steps and repeat must be at least 1, warm-up at least 0");
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("the compute dtype must be floating point, not " + dtype);
    }

    /** In float32, the VAE tiling as it does by default. */
    public BenchSettings(int latent, int batch, int vaeBatch, int steps, int repeat, int warmup, boolean profile) {
        this(latent, batch, vaeBatch, steps, repeat, warmup, profile, DType.FLOAT32);
    }

    /** The VAE tiling as it does by default. */
    public BenchSettings(int latent, int batch, int vaeBatch, int steps, int repeat, int warmup, boolean profile, DType dtype) {
        this(latent, batch, vaeBatch, steps, repeat, warmup, profile, dtype, VaeTiling.Mode.AUTO, 0);
    }

    /** Dense weights. */
    public BenchSettings(int latent, int batch, int vaeBatch, int steps, int repeat, int warmup, boolean profile, DType dtype,
                         VaeTiling.Mode vaeTiling, int vaeTile) {
        this(latent, batch, vaeBatch, steps, repeat, warmup, profile, dtype, vaeTiling, vaeTile, WeightFormat.DENSE);
    }

    String[] asArguments() {
        return new String[] {"" + latent, "" + batch, "" + vaeBatch, "" + steps, "" + repeat, "" + warmup, "" + profile, dtype.name(), vaeTiling.name(), "" + vaeTile, weights.name()};
    }

    static BenchSettings fromArguments(String[] a, int from) {
        return new BenchSettings(Integer.parseInt(a[from]), Integer.parseInt(a[from + 1]), Integer.parseInt(a[from + 2]), Integer.parseInt(a[from + 3]),
                Integer.parseInt(a[from + 4]), Integer.parseInt(a[from + 5]), Boolean.parseBoolean(a[from + 6]), DType.valueOf(a[from + 7]),
                VaeTiling.Mode.valueOf(a[from + 8]), Integer.parseInt(a[from + 9]), WeightFormat.valueOf(a[from + 10]));
    }
}
