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

    /** A new standard-normal tensor of the given shape, on {@code device}, in the current scope. */
    Tensor next(long[] shape, DType dtype, Device device);

    /**
     * Draws with {@code generator} on the generator's own device and moves the result where it is asked for, as
     * the reference's randn_tensor does: a CPU generator gives the same numbers whatever device the model is on.
     */
    static NoiseSource of(Generator generator) {
        return (shape, dtype, device) -> {
            Tensor drawn = Tensor.randn(generator, dtype, generator.device(), shape);
            return drawn.device().equals(device) ? drawn : drawn.to(device);
        };
    }

    /**
     * A batch's noise drawn row by row: a draw of shape (B, ...) takes one (1, ...) draw from each of the B
     * sources, so every row sees exactly the numbers its own source would give a run of that row alone.
     */
    static NoiseSource perRow(java.util.List<NoiseSource> rows) {
        return (shape, dtype, device) -> {
            if (shape.length == 0 || shape[0] != rows.size())
                throw new IllegalArgumentException("a draw of shape " + java.util.Arrays.toString(shape) + " for " + rows.size() + " rows");
            long[] rowShape = shape.clone();
            rowShape[0] = 1;
            Tensor[] parts = new Tensor[rows.size()];
            for (int i = 0; i < parts.length; i++) parts[i] = rows.get(i).next(rowShape, dtype, device);
            return Tensor.cat(0, parts);
        };
    }
}
