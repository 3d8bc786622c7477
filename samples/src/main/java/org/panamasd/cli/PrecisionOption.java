package org.panamasd.cli;

import org.panamasd.DType;
import org.panamasd.nn.Precision;
import picocli.CommandLine.Option;

/** What the models compute in (generate, serve, bench-model, profile-memory). */
final class PrecisionOption {
    @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = "float32",
            description = "What the models compute in: float32, bfloat16, or auto (bfloat16 where the CPU has avx512_bf16 or amx_bf16) (default: ${DEFAULT-VALUE}).")
    String dtype;

    DType resolve() {
        return Precision.parse(dtype).resolve();
    }
}
