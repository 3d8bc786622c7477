package org.panamasd.cli;

import java.io.PrintWriter;
import org.panamasd.benchmark.AttentionBenchmark;
import org.panamasd.benchmark.MachineInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The attention kernel alone at SD's shapes: the blocked kernel against the math path. */
@Command(name = "bench-attention", sortOptions = false,
        description = "Attention alone at SD 1.5 and SDXL shapes (float32): the shim's blocked kernel against the math path (bmm + softmax by query chunks).")
final class BenchAttentionCommand implements Runnable {
    @Spec
    CommandSpec spec;
    @Option(names = "--rounds", defaultValue = "3", description = "Timed calls of each path per shape, alternating; the best is kept (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        out.println("machine: " + MachineInfo.current().summary() + ", libtorch " + org.panamasd.Torch.version());
        out.println("| shape (batch x heads, queries, keys, head dim) | where | blocked | math | math / blocked |");
        out.println("| --- | --- | --- | --- | --- |");
        for (AttentionBenchmark.Row r : AttentionBenchmark.run(AttentionBenchmark.SD_SHAPES, rounds)) {
            var s = r.shape();
            out.printf("| %d x %d x %d x %d | %s | %.3f s | %.3f s | %.2f |%n", s.heads(), s.queries(), s.keys(), s.headDim(), s.where(),
                    r.blockedSeconds(), r.mathSeconds(), r.speedup());
        }
        out.flush();
    }
}
