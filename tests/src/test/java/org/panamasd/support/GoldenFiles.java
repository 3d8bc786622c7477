package org.panamasd.support;

import java.nio.file.Path;

/** Paths into the golden cases beside the checkout (-Dgolden.root, relative to -Dpanamasd.root). */
public final class GoldenFiles {
    private GoldenFiles() {}

    public static Path root() {
        Path root = Path.of(System.getProperty("golden.root", "../shared/golden"));
        return root.isAbsolute() ? root : Path.of(System.getProperty("panamasd.root", "..")).resolve(root);
    }

    /** The real CLIP BPE tokenizer of the golden SD pipeline case. */
    public static Path tokenizer() {
        return root().resolve("sd-pipeline-tiny/pipeline/tokenizer");
    }
}
