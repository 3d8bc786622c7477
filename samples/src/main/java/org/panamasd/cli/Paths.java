package org.panamasd.cli;

import java.nio.file.Path;

/** Where the launcher's checkout keeps things (-Dpanamasd.root, set by ./panama-sd). */
final class Paths {
    private Paths() {}

    static Path root() {
        return Path.of(System.getProperty("panamasd.root", "."));
    }

    /** The real CLIP BPE tokenizer files of the golden SD pipeline case (beside the checkout). */
    static Path goldenTokenizer() {
        return root().resolve("../shared/golden/sd-pipeline-tiny/pipeline/tokenizer").normalize();
    }
}
