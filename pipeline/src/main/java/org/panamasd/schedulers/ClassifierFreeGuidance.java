package org.panamasd.schedulers;

import org.panamasd.Tensor;

/**
 * Classifier-free guidance (Ho and Salimans 2022): eps = eps_uncond + w (eps_cond - eps_uncond), with the
 * optional guidance rescale of Lin et al. 2023 (section 3.4): the guided prediction is rescaled to the std of
 * the conditional one and mixed back with weight phi (0.7 is usual).
 */
public final class ClassifierFreeGuidance {

    /** Whether guidance applies: only for scale > 1, as the reference pipelines decide. */
    public static boolean enabled(double scale) {
        return scale > 1.0;
    }

    public static Tensor combine(Tensor uncond, Tensor cond, double scale) {
        return uncond.add(cond.sub(uncond).mul(scale));
    }

    public static Tensor combine(Tensor uncond, Tensor cond, double scale, double rescale) {
        Tensor guided = combine(uncond, cond, scale);
        return rescale > 0 ? rescale(guided, cond, rescale) : guided;
    }

    /** eps = phi * guided * std(cond) / std(guided) + (1 - phi) * guided, stds per sample over all but dim 0. */
    public static Tensor rescale(Tensor guided, Tensor cond, double phi) {
        long[] dims = new long[guided.dim() - 1];
        for (int i = 0; i < dims.length; i++) dims[i] = i + 1;
        Tensor stdCond = cond.std(dims, 1, true);
        Tensor stdGuided = guided.std(dims, 1, true);
        Tensor rescaled = guided.mul(stdCond.div(stdGuided));
        return rescaled.mul(phi).add(guided.mul(1 - phi));
    }

    /** Splits a batched [uncond; cond] prediction and guides it. */
    public static Tensor guideBatched(Tensor prediction, double scale, double rescale) {
        Tensor[] halves = prediction.chunk(2, 0);
        return combine(halves[0], halves[1], scale, rescale);
    }

    private ClassifierFreeGuidance() {}
}
