package org.panamasd.benchmark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.panamasd.Torch;
import org.panamasd.internal.Native;
import org.panamasd.nn.CpuFeatures;

/**
 * What a benchmark figure depends on besides the code: the CPU (model, the vector extensions libtorch's and
 * oneDNN's kernels choose by), cores, libtorch and its intra-op threads, the BLAS libtorch calls, glibc malloc
 * thresholds and whether the counting allocator is on.
 */
public record MachineInfo(String cpu, List<String> flags, String isaCaps, int cores, String libtorch, int threads, String blas, long mmapThreshold,
                          long trimThreshold, boolean countingAllocator, String java) {
    private static final List<String> FLAGS = List.of("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile");

    public static MachineInfo current() {
        CpuFeatures cpu = CpuFeatures.current();
        List<String> present = FLAGS.stream().filter(cpu::has).toList();
        return new MachineInfo(cpu.model(), present, CpuFeatures.isaCaps(), Runtime.getRuntime().availableProcessors(), Torch.version(), Torch.numThreads(), Torch.blasInfo(),
                Native.MMAP_THRESHOLD, Native.TRIM_THRESHOLD, Native.COUNTING_ALLOCATOR, Runtime.version().toString());
    }

    /** One line: CPU (extensions; caps on them), cores, libtorch threads. */
    public String summary() {
        return String.format("%s (%s%s), %d cores, libtorch threads %d", cpu, flags.isEmpty() ? "no AVX2" : String.join(",", flags),
                isaCaps.isEmpty() ? "" : "; capped: " + isaCaps, cores, threads);
    }

    public ObjectNode toJson(ObjectMapper json) {
        ObjectNode n = json.createObjectNode().put("cpu", cpu);
        flags.forEach(n.putArray("flags")::add);
        if (!isaCaps.isEmpty()) n.put("isa_caps", isaCaps);
        return n.put("cores", cores).put("libtorch", libtorch).put("threads", threads).put("blas", blas).put("malloc_mmap_threshold", mmapThreshold)
                .put("malloc_trim_threshold", trimThreshold).put("counting_allocator", countingAllocator).put("java", java);
    }
}
