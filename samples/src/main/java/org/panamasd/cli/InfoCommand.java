package org.panamasd.cli;

import java.util.Arrays;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import picocli.CommandLine.Command;

/** The smoke demo: what libtorch this is, which BLAS it calls, a few ops, and native memory before and after. */
@Command(name = "info", description = "The runtime: libtorch version, the BLAS it calls, threads, a few ops and native memory statistics.")
final class InfoCommand implements Runnable {
    @Override
    public void run() {
        long baseline = MemoryStats.liveTensorCount();
        System.out.println("panama-sd on libtorch " + Torch.version());
        System.out.println("BLAS:    " + Torch.blasInfo());
        System.out.println("threads: " + Torch.numThreads() + " intra-op (available processors: " + Runtime.getRuntime().availableProcessors() + ")");
        org.panamasd.MemoryStats.Pool pool = org.panamasd.MemoryStats.pool();
        System.out.println("block pool: " + (pool.enabled() ? "on, tensors of 1 MiB or more in reused blocks, at most " + (pool.limitBytes() >> 20) + " MiB of free blocks kept"
                : "off (-Dpanamasd.allocator.pool=false or no counting allocator): large tensors come from malloc"));
        System.out.println("attention: " + (Torch.hasFusedAttention() ? "libtorch fused kernel" : "math path (libtorch has no fused kernel)"));
        System.out.println("CUDA devices: " + Torch.cudaDeviceCount());
        System.out.println();
        try (Scope scope = Scope.open(); Generator generator = new Generator(42)) {
            Tensor a = Tensor.randn(generator, 256, 256);
            Tensor b = Tensor.randn(generator, 256, 256);
            long start = System.nanoTime();
            Tensor c = a.matmul(b);
            long micros = (System.nanoTime() - start) / 1000;
            System.out.printf("matmul %s x %s -> %s in %d us, mean %.4f%n", Arrays.toString(a.shape()), Arrays.toString(b.shape()),
                    Arrays.toString(c.shape()), micros, c.mean().item());
            Tensor image = Tensor.randn(generator, 1, 4, 64, 64);
            Tensor weight = Tensor.randn(generator, 8, 4, 3, 3);
            Tensor features = Functional.conv2d(image, weight, null, 1, 1).silu();
            Tensor normed = Functional.groupNorm(features, 2, null, null, 1e-5);
            System.out.printf("conv2d+silu+group_norm -> %s, std %.4f%n", normed, normed.std(new long[0], 1, false).item());
            Tensor softmax = Tensor.arange(0, 6, 1, DType.FLOAT32).reshape(2, 3).softmax(-1);
            System.out.println("softmax(arange(6).reshape(2, 3)) = " + Arrays.toString(softmax.toFloatArray()));
            MemoryStats during = MemoryStats.now();
            System.out.printf("%nin scope: %d live tensors (scope owns %d, %d bytes); allocator holds %d bytes, peak %d%n",
                    during.liveTensors(), scope.liveTensors(), scope.bytes(), during.allocatedBytes(), during.peakBytes());
        }
        MemoryStats after = MemoryStats.now();
        System.out.printf("after scope: %d live tensors, allocator holds %d bytes (peak %d, %d allocations, %d frees)%n",
                after.liveTensors(), after.allocatedBytes(), after.peakBytes(), after.allocations(), after.frees());
        MemoryStats.assertNoLeaks(baseline);
    }
}
