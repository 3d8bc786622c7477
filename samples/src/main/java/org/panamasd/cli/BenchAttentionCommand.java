package org.panamasd.cli;

import java.io.PrintWriter;
import org.panamasd.benchmark.AttentionBenchmark;
import org.panamasd.benchmark.MachineInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The attention kernel alone at SD's shapes: the flash kernel against the math path. */
@Command(name = "bench-attention", sortOptions = false,
        description = "Attention alone at SD 1.5, SDXL and VAE shapes: the shim's flash kernel against the math path (bmm + softmax by query chunks).")
final class BenchAttentionCommand implements Runnable {
    @Spec
    CommandSpec spec;
    @Option(names = "--rounds", defaultValue = "3", description = "Timed calls of each path per shape, alternating; the best is kept (default: ${DEFAULT-VALUE}).")
    int rounds;
    @Option(names = "--kernels", paramLabel = "avx512|avx2", description = "The flash kernels' instruction set, this CPU's or an older one (default: this CPU's).")
    String kernels;
    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "The inputs' dtype: bfloat16 takes the AVX512_BF16 kernels where the CPU has them (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        if (kernels != null) {
            try {
                org.panamasd.Torch.setFlashAttentionIsa(kernels);
            } catch (RuntimeException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--kernels: " + e.getMessage());
            }
        }
        org.panamasd.DType inputs = switch (dtype) {
            case "float32" -> org.panamasd.DType.FLOAT32;
            case "bfloat16" -> org.panamasd.DType.BFLOAT16;
            default -> throw new CommandLine.ParameterException(spec.commandLine(), "--dtype must be float32 or bfloat16, not " + dtype);
        };
        out.println("machine: " + MachineInfo.current().summary() + ", libtorch " + org.panamasd.Torch.version() + ", flash kernel: "
                + org.panamasd.Torch.flashAttentionIsa() + ", " + dtype);
        out.println("| shape (batch x heads, queries, keys, head dim) | where | flash | math | math / flash |");
        out.println("| --- | --- | --- | --- | --- |");
        for (AttentionBenchmark.Row r : AttentionBenchmark.run(AttentionBenchmark.SD_SHAPES, rounds, inputs)) {
            var s = r.shape();
            out.printf("| %d x %d x %d x %d | %s | %.3f s | %.3f s | %.2f |%n", s.heads(), s.queries(), s.keys(), s.headDim(), s.where(),
                    r.flashSeconds(), r.mathSeconds(), r.speedup());
        }
        out.flush();
    }
}
