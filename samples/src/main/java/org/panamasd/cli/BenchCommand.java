package org.panamasd.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.internal.panamasd_h;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The bridge benchmark: the per-op cost of adding two 1-element tensors (making and freeing the result)
 * through the Java API, in C++ against libtorch, and in Python on the same libtorch, in one run; plus the
 * raw cost of one empty shim call. Best of several rounds for each, after a warm-up.
 */
@Command(name = "bench", description = "The bridge benchmark: per-op cost of a 1-element add through Java, C++ and Python on the same libtorch.")
final class BenchCommand implements java.util.concurrent.Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "ITERATIONS", defaultValue = "2000000", description = "Adds per round (default: ${DEFAULT-VALUE}).")
    long iterations;
    @Parameters(index = "1", arity = "0..1", paramLabel = "ROUNDS", defaultValue = "5", description = "Rounds; the best counts (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Override
    public Integer call() throws Exception {
        Path root = Path.of(System.getProperty("panamasd.root", "."));
        System.out.printf("machine: %d processors, libtorch %s, %d intra-op threads; %d iterations x %d rounds, best round%n",
                Runtime.getRuntime().availableProcessors(), Torch.version(), Torch.numThreads(), iterations, rounds);

        double noop = javaNoop(iterations, rounds);
        double java = javaAdd(iterations, rounds);
        Double cpp = external("cpp_add_ns_per_op", List.of(root.resolve("native/build/psd_bench").toString(), "" + iterations, "" + rounds));
        Double python = Files.isExecutable(Path.of("/usr/bin/python3"))
                ? external("python_add_ns_per_op", List.of("/usr/bin/python3", root.resolve("native/bench/add_bench.py").toString(), "" + iterations, "" + rounds))
                : null;

        System.out.printf("%nempty shim call (psd_noop):  %8.1f ns%n", noop);
        System.out.printf("add, Java API:               %8.1f ns/op%n", java);
        System.out.printf("add, C++ (libtorch):         %s%n", cpp == null ? "unavailable (build native/build/psd_bench)" : String.format("%8.1f ns/op", cpp));
        System.out.printf("add, Python (python3-torch): %s%n", python == null ? "unavailable (apt-get install python3-torch)" : String.format("%8.1f ns/op", python));
        if (cpp != null) System.out.printf("Java / C++    = %.2fx (target <= 1.10x)%n", java / cpp);
        if (python != null) System.out.printf("Python / Java = %.2fx (target >= 1.40x)%n", python / java);
        return 0;
    }

    private static double javaNoop(long iterations, int rounds) {
        MemoryStats.liveTensorCount();  // loads the library
        for (long i = 0; i < iterations; i++) panamasd_h.psd_noop();
        double best = Double.MAX_VALUE;
        for (int r = 0; r < rounds; r++) {
            long start = System.nanoTime();
            for (long i = 0; i < iterations; i++) panamasd_h.psd_noop();
            best = Math.min(best, (System.nanoTime() - start) / (double) iterations);
        }
        return best;
    }

    private static double javaAdd(long iterations, int rounds) {
        try (Scope scope = Scope.open()) {
            Tensor a = Tensor.ones(1);
            Tensor b = Tensor.ones(1);
            for (long i = 0; i < iterations / 2; i++) a.add(b).close();
            double best = Double.MAX_VALUE;
            for (int r = 0; r < rounds; r++) {
                long start = System.nanoTime();
                for (long i = 0; i < iterations; i++) a.add(b).close();
                double ns = (System.nanoTime() - start) / (double) iterations;
                System.out.printf("java round %d: %.1f ns/op%n", r, ns);
                best = Math.min(best, ns);
            }
            return best;
        }
    }

    /** Runs a baseline program and reads the line "KEY value" it prints; null when it cannot run. */
    private static Double external(String key, List<String> command) throws InterruptedException {
        if (!Files.exists(Path.of(command.getFirst()))) return null;
        try {
            Process process = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).start();
            Double value = null;
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream()))) {
                for (String line; (line = out.readLine()) != null; ) {
                    if (line.startsWith(key + " ")) value = Double.parseDouble(line.substring(key.length() + 1).trim());
                    else if (!line.startsWith("round")) System.out.println("  " + line);
                }
            }
            return process.waitFor() == 0 ? value : null;
        } catch (IOException e) {
            return null;
        }
    }
}
