package org.panamasd.schedulers;

import org.panamasd.Op;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;

/**
 * Keeps a predicted x_0 in range: clip_sample clamps to [-r, r]; thresholding is Imagen's dynamic
 * thresholding (Saharia et al. 2022): per sample, s = clamp(quantile(|x_0|, ratio), 1, max) and x_0 =
 * clamp(x_0, -s, s) / s.
 */
record SampleClipping(boolean clip, double clipRange, boolean thresholding, double ratio, double maxValue) {

    static SampleClipping fromConfig(DiffusersConfig config, boolean clipByDefault) {
        return new SampleClipping(config.bool("clip_sample", clipByDefault), config.number("clip_sample_range", 1.0),
                config.bool("thresholding", false), config.number("dynamic_thresholding_ratio", 0.995), config.number("sample_max_value", 1.0));
    }

    static SampleClipping none() {
        return new SampleClipping(false, 1, false, 0.995, 1);
    }

    /** DPM-Solver only thresholds; it has no clip_sample. */
    SampleClipping withoutClip() {
        return new SampleClipping(false, clipRange, thresholding, ratio, maxValue);
    }

    Tensor apply(Tensor x0) {
        if (thresholding) return threshold(x0);
        if (clip) return x0.clamp(-clipRange, clipRange);
        return x0;
    }

    private Tensor threshold(Tensor x0) {
        long[] shape = x0.shape();
        Tensor flat = x0.reshape(shape[0], -1);
        Tensor s = Op.find("aten::quantile", "scalar").callTensor(flat.abs(), ratio, 1L);   // (B,)
        s = s.clamp(1, maxValue).unsqueeze(1);
        Tensor clipped = flat.minimum(s).maximum(s.neg()).div(s);
        return clipped.reshape(shape);
    }
}
