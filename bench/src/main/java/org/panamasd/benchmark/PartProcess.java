package org.panamasd.benchmark;

import java.nio.file.Path;

/** A child JVM that measures one part: {@code DIR PART OUT.json LATENT BATCH VAE_BATCH STEPS REPEAT WARMUP PROFILE DTYPE}. */
public final class PartProcess {
    private PartProcess() {}

    public static void main(String[] args) {
        var result = PartRunner.run(Path.of(args[0]), args[1], BenchSettings.fromArguments(args, 3), false);
        ModelBenchmark.writeJson(result, Path.of(args[2]));
    }
}
