package org.panamasd.cli;

import org.panamasd.DType;
import org.panamasd.nn.Precision;
import picocli.CommandLine.Option;

/**
 * What the models compute in (generate, serve, bench-model, profile-memory). Generation defaults to {@code auto}
 * (bfloat16 where the CPU computes it natively: its images stay within the PSNR that docs/models.md states against
 * float32); the benchmarks default to float32, so that a figure measured without the option means the same on every CPU.
 */
final class PrecisionOption {
    @Option(names = "--dtype", paramLabel = "DTYPE",
            description = "What the models compute in: float32, bfloat16, or auto (bfloat16 where the CPU has avx512_bf16 or amx_bf16, else float32) "
                    + "(default: auto for generate and serve, float32 for the benchmarks).")
    String dtype;

    /** The dtype asked for, or {@code fallback}'s where the option is absent, on this machine's CPU. */
    DType resolve(Precision fallback) {
        return (dtype == null ? fallback : Precision.parse(dtype)).resolve();
    }
}
