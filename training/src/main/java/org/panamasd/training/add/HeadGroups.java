package org.panamasd.training.add;

/**
 * Which samples share a {@link BatchNormLocal} group in the heads. StyleGAN-T passes real and generated images
 * apart, so each group holds one kind only, and normalising removes what sets the kinds apart per channel (a
 * shift or a scale: lost contrast, blur at low resolution). Mixed, real and generated samples alternate in one
 * pass, so each group holds both and that difference survives the norm.
 */
public enum HeadGroups {
    /** Real and generated images in passes of their own (StyleGAN-T). */
    SEPARATE("separate"),
    /** Real and generated images alternating in one pass: every group of the norm holds both. */
    MIXED("mixed");

    private final String name;

    HeadGroups(String name) {
        this.name = name;
    }

    public static HeadGroups fromName(String name) {
        for (HeadGroups g : values()) if (g.name.equals(name)) return g;
        throw new IllegalArgumentException("unknown head groups '" + name + "' (separate or mixed)");
    }

    public String configName() {
        return name;
    }
}
