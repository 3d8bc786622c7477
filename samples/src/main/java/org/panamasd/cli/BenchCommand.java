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
 * through the Java API, in C++ against libtorch, in C++ through the shim's C ABI (which splits the bridge's
 * cost into the shim's and the Java side's), and in Python on the same libtorch, in one run; plus the
 * raw cost of one empty shim call. Best of several rounds for each, after a warm-up (for Java, as many rounds
 * again: the steady state of a JVM that has sized its heap).
 */
@Command(name = "bench", description = "The bridge benchmark: per-op cost of a 1-element add through Java, C++ (directly and through the shim) and Python on the same libtorch, in alternating rounds.")
final class BenchCommand implements java.util.concurrent.Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "ITERATIONS", defaultValue = "2000000", description = "Adds per round (default: ${DEFAULT-VALUE}).")
    long iterations;
    @Parameters(index = "1", arity = "0..1", paramLabel = "ROUNDS", defaultValue = "5", description = "Rounds; the best counts (default: ${DEFAULT-VALUE}).")
    int rounds;
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;
    private java.io.PrintWriter out;

    @Override
    public Integer call() throws Exception {
        if (iterations < 1 || rounds < 1)
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "ITERATIONS and ROUNDS must be at least 1, got " + iterations + " and " + rounds);
        out = spec.commandLine().getOut();
        Path root = Path.of(System.getProperty("panamasd.root", "."));
        // the C++ baselines are built beside the shim (native/CMakeLists.txt), wherever its build directory is
        String library = System.getProperty("panamasd.library");
        Path nativeBuild = library != null ? Path.of(library).toAbsolutePath().getParent() : root.resolve("native/build");
        out.printf("machine: %d processors, libtorch %s, %d intra-op threads; %d iterations x %d rounds, best round%n",
                Runtime.getRuntime().availableProcessors(), Torch.version(), Torch.numThreads(), iterations, rounds);

        double noop = javaNoop(iterations, rounds);
        List<String> cppCommand = List.of(nativeBuild.resolve("psd_bench").toString(), "" + iterations, "1");
        List<String> shimCommand = List.of(nativeBuild.resolve("psd_bench_shim").toString(), "" + iterations, "1");
        List<String> pythonCommand = List.of("/usr/bin/python3", root.resolve("native/bench/add_bench.py").toString(), "" + iterations, "1");
        // the rounds alternate (Java, C++, C++ through the shim, Python), so that a slower stretch of a shared host
        // falls on every path alike rather than on whichever ran then; each path's best round counts
        Double java = null, cpp = null, shim = null, python = null;
        try (Scope scope = Scope.open()) {
            Tensor a = Tensor.ones(1);
            Tensor b = Tensor.ones(1);
            // as many warm-up rounds as timed ones: the JIT settles within the first, but the young generation goes
            // on growing (each op allocates a Tensor) for several seconds, and the first touch of each new page of
            // heap is a page fault billed to the op that reached it
            for (int r = 0; r < rounds; r++) {
                out.printf("java warm-up round %d: %.1f ns/op%n", r, javaAddRound(a, b, iterations));
                out.flush();
            }
            for (int r = 0; r < rounds; r++) {
                double j = javaAddRound(a, b, iterations);
                Double c = external("cpp_add_ns_per_op", cppCommand);
                Double sh = external("shim_add_ns_per_op", shimCommand);
                Double py = Files.isExecutable(Path.of("/usr/bin/python3")) ? external("python_add_ns_per_op", pythonCommand) : null;
                out.printf("round %d: Java %.1f, C++ %s, shim %s, Python %s ns/op%n", r, j, orDash(c), orDash(sh), orDash(py));
                out.flush();
                java = min(java, j);
                cpp = min(cpp, c);
                shim = min(shim, sh);
                python = min(python, py);
            }
        }

        out.printf("%nempty shim call (psd_noop):  %8.1f ns%n", noop);
        out.printf("add, Java API:               %8.1f ns/op%n", java);
        out.printf("add, C++ (libtorch):         %s%n", cpp == null ? "unavailable (build " + nativeBuild.resolve("psd_bench") + ")" : String.format("%8.1f ns/op", cpp));
        out.printf("add, C++ through the shim:   %s%n", shim == null ? "unavailable (build " + nativeBuild.resolve("psd_bench_shim") + ")" : String.format("%8.1f ns/op", shim));
        out.printf("add, Python (python3-torch): %s%n", python == null ? "unavailable (apt-get install python3-torch)" : String.format("%8.1f ns/op", python));
        if (cpp != null) out.printf("Java / C++    = %.2fx (target <= 1.10x)%n", java / cpp);
        if (cpp != null && shim != null)
            out.printf("  of which the shim (C ABI, exception barrier, allocator accounting) %.2fx, the Java side %.2fx%n", shim / cpp, java / shim);
        if (python != null) out.printf("Python / Java = %.2fx (target >= 1.40x)%n", python / java);
        return 0;
    }

    private static String orDash(Double ns) {
        return ns == null ? "-" : String.format("%.1f", ns);
    }

    /** The lesser of a best so far (null: none yet) and a new round (null: that path could not run). */
    private static Double min(Double best, Double round) {
        if (round == null) return best;
        return best == null ? round : Math.min(best, round);
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

    /** One round of Java adds, each result made and freed: ns per op. */
    private static double javaAddRound(Tensor a, Tensor b, long iterations) {
        long start = System.nanoTime();
        for (long i = 0; i < iterations; i++) a.add(b).close();
        return (System.nanoTime() - start) / (double) iterations;
    }

    /** Runs a baseline program and reads the line "KEY value" it prints; null when it cannot run. */
    private Double external(String key, List<String> command) throws InterruptedException {
        if (!Files.exists(Path.of(command.getFirst()))) return null;
        try {
            Process process = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).start();
            Double value = null;
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream()))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    if (line.startsWith(key + " ")) value = Double.parseDouble(line.substring(key.length() + 1).trim());
                    else if (!line.startsWith("round")) out.println("  " + line);
                }
            }
            return process.waitFor() == 0 ? value : null;
        } catch (IOException e) {
            return null;
        }
    }
}
