package org.panamasd.training.add;

/**
 * Where a {@link DiscriminatorHead} normalises with {@link BatchNormLocal}. StyleGAN-T normalises after both
 * of its blocks. A batch norm right after the first (kernel-1, linear) conv makes a head exactly blind to a
 * per-channel affine change of its input features, and a feature layer that is linear in the pixels (a ViT's
 * patch embedding) turns lost contrast and, in part, blur into exactly such a change: the real and the
 * generated pass are normalised apart, so the tell is divided away before the head can see it.
 */
public enum HeadNorm {
    /** StyleGAN-T's heads: BatchNormLocal after both blocks. */
    LOCAL("local", true, true),
    /** No norm after the first block; the residual block keeps its BatchNormLocal. */
    SKIP_FIRST("skip-first", false, true),
    /** No BatchNormLocal at all (spectral norm alone bounds the heads). */
    NONE("none", false, false);

    private final String name;
    private final boolean first, residual;

    HeadNorm(String name, boolean first, boolean residual) {
        this.name = name;
        this.first = first;
        this.residual = residual;
    }

    public static HeadNorm fromName(String name) {
        for (HeadNorm n : values()) if (n.name.equals(name)) return n;
        throw new IllegalArgumentException("unknown head norm '" + name + "' (local, skip-first or none)");
    }

    public String configName() {
        return name;
    }

    boolean normalisesFirstBlock() {
        return first;
    }

    boolean normalisesResidualBlock() {
        return residual;
    }
}
