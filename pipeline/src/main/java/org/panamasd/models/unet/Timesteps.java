package org.panamasd.models.unet;

import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * The sinusoidal timestep embedding (DDPM; Vaswani et al.): f_i = exp(-ln(10000) i / (half - shift)),
 * emb = [sin(t f), cos(t f)], or [cos, sin] with flip_sin_to_cos. The timestep is cast to float32 first.
 */
public final class Timesteps {
    private final int dim;
    private final boolean flipSinToCos;
    private final double shift;

    public Timesteps(int dim, boolean flipSinToCos, double shift) {
        this.dim = dim;
        this.flipSinToCos = flipSinToCos;
        this.shift = shift;
    }

    /** timesteps: (B,) of any numeric dtype -> (B, dim) float32. */
    public Tensor forward(Tensor timesteps) {
        int half = dim / 2;
        Tensor positions = Tensor.arange(0, half, 1, DType.FLOAT32);
        if (!timesteps.device().equals(positions.device())) positions = positions.to(timesteps.device());  // the embedding is made where t is
        Tensor frequencies = positions.mul(-Math.log(10000) / (half - shift)).exp();  // (half,)
        Tensor angles = timesteps.to(DType.FLOAT32).unsqueeze(1).mul(frequencies.unsqueeze(0));                      // (B, half)
        Tensor emb = flipSinToCos ? Tensor.cat(-1, angles.cos(), angles.sin()) : Tensor.cat(-1, angles.sin(), angles.cos());
        if (dim % 2 == 1) emb = org.panamasd.Functional.pad(emb, new long[] {0, 1}, org.panamasd.Functional.PadMode.CONSTANT, 0);
        return emb;
    }
}
