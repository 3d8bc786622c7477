package org.panamasd.schedulers;

import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Generator;
import org.panamasd.Tensor;

/**
 * Where stochastic steps draw their Gaussian noise: a seeded generator, or a recorded sequence replayed
 * exactly (the golden trajectories record what the reference drew).
 */
@FunctionalInterface
public interface NoiseSource {

    /** A new standard-normal tensor of the given shape, in the current scope. */
    Tensor next(long[] shape, DType dtype, Device device);

    static NoiseSource of(Generator generator) {
        return (shape, dtype, device) -> Tensor.randn(generator, dtype, device, shape);
    }
}
