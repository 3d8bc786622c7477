package org.panamasd.pipelines;

import java.util.Arrays;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Tensor;
import org.panamasd.schedulers.NoiseSource;

/**
 * The unit-noise latents a text-to-image run starts from, on the denoiser's device: the caller's (moved there),
 * or drawn with the generator on its own device, as the reference's randn_tensor, so a seed gives the same image
 * on any device.
 */
final class InitialLatents {

    static Tensor of(Tensor given, Generator generator, long[] shape, Device device) {
        if (given != null) return given.device().equals(device) ? given : given.to(device);
        if (generator == null) throw new IllegalArgumentException("no latents of shape " + Arrays.toString(shape) + " given and no generator to draw them");
        return NoiseSource.of(generator).next(shape, DType.FLOAT32, device);
    }

    private InitialLatents() {}
}
