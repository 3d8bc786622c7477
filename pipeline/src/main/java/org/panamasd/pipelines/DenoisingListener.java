package org.panamasd.pipelines;

import org.panamasd.Tensor;

/** Sees every denoising step (for previews, progress, tests). The tensors are valid during the call only. */
@FunctionalInterface
public interface DenoisingListener {
    /**
     * @param unetInput  the scaled model input ([uncond, cond] with guidance)
     * @param unetOutput the raw model output
     * @param guided     the guided noise prediction (the raw output without guidance)
     * @param latents    the latents after the scheduler step
     */
    void onStep(int index, double timestep, Tensor unetInput, Tensor unetOutput, Tensor guided, Tensor latents);

    DenoisingListener NONE = (index, timestep, unetInput, unetOutput, guided, latents) -> { };
}
