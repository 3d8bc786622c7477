package org.panamasd.support;

import java.nio.file.Path;

/** Files the repository ships (under -Dpanamasd.root), which every clone has, unlike the golden cases beside it. */
public final class ShippedFiles {
    private ShippedFiles() {}

    /** The real CLIP BPE tokenizer files (vocab.json, merges.txt), as the shipped teacher carries them. */
    public static Path tokenizer() {
        return Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher/tokenizer");
    }
}
