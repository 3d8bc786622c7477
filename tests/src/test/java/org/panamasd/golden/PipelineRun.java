package org.panamasd.golden;

import java.util.ArrayList;
import java.util.List;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.pipelines.DenoisingListener;
import org.panamasd.pipelines.GenerationResult;

/**
 * The outputs of one run of a pipeline case (tensors prefixed {@code <run>.}), compared within the case's
 * tolerance: single tensors by name, every denoising step through {@link #steps()}, and the result.
 */
final class PipelineRun {
    private final SafeTensors out;
    private final String prefix;
    private final double atol, rtol;
    private final List<Double> timesteps = new ArrayList<>();

    PipelineRun(GoldenCase c, String run) {
        this.out = c.outputs();
        this.prefix = run + ".";
        this.atol = c.atol();
        this.rtol = c.rtol();
    }

    String prefix() {
        return prefix;
    }

    boolean has(String name) {
        return out.contains(prefix + name);
    }

    /** The size of the reference's tensor along {@code dim}. */
    long expectedSize(String name, int dim) {
        return out.entry(prefix + name).shape()[dim];
    }

    void tensor(String name, Tensor got) {
        Compare.tensors(prefix + name, out.tensor(prefix + name), got, atol, rtol);
    }

    void scalar(String name, double got) {
        Compare.values(prefix + name, out.tensor(prefix + name).toDoubleArray(), new double[] {got}, atol, rtol);
    }

    void values(String name, double[] got) {
        Compare.values(prefix + name, out.tensor(prefix + name).toDoubleArray(), got, atol, rtol);
    }

    void ids(String name, long[] got) {
        Compare.exact(prefix + name, out.tensor(prefix + name).toLongArray(), got);
    }

    /**
     * Compares every step as it happens: the UNet's input and raw output, the guided prediction (where the run
     * has one) and the latents after the step; the timesteps seen are kept for {@link #checkSteps()}.
     */
    DenoisingListener steps() {
        timesteps.clear();
        Tensor inputs = out.tensor(prefix + "unet_input"), outputs = out.tensor(prefix + "unet_output"), latents = out.tensor(prefix + "step_latents");
        Tensor guided = has("noise_pred_guided") ? out.tensor(prefix + "noise_pred_guided") : null;
        return (i, t, unetInput, unetOutput, guidedOutput, next) -> {
            if (i >= latents.size(0)) throw new AssertionError(prefix + "step " + i + ": the reference ran only " + latents.size(0) + " steps");
            timesteps.add(t);
            Compare.tensors(prefix + "unet_input[" + i + "]", inputs.get(i), unetInput, atol, rtol);
            Compare.tensors(prefix + "unet_output[" + i + "]", outputs.get(i), unetOutput, atol, rtol);
            if (guided != null) Compare.tensors(prefix + "noise_pred_guided[" + i + "]", guided.get(i), guidedOutput, atol, rtol);
            Compare.tensors(prefix + "step_latents[" + i + "]", latents.get(i), next, atol, rtol);
        };
    }

    /** The run made as many steps as the reference, at its timesteps. */
    void checkSteps() {
        values("timesteps", timesteps.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** The final latents, the decoding and the image. */
    void result(GenerationResult result) {
        tensor("final_latents", result.latents());
        tensor("decoded", result.decoded());
        tensor("image", result.image());
    }

    /** A seeded run's result against the reference's (libtorch's CPU generator draws what torch's does). */
    void seeded(GenerationResult result) {
        Compare.tensors(prefix + "final_latents (seeded)", out.tensor(prefix + "final_latents"), result.latents(), atol, rtol);
        Compare.tensors(prefix + "image (seeded)", out.tensor(prefix + "image"), result.image(), atol, rtol);
    }
}
