package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.support.NativeTest;

class RuntimeTest extends NativeTest {

    @Test
    void defaultThreadCountIsTheAvailableProcessors() {
        // unless the run configured another count on purpose
        if (System.getProperty("panamasd.threads") == null && System.getenv("PANAMASD_NUM_THREADS") == null)
            assertEquals(Runtime.getRuntime().availableProcessors(), Torch.numThreads());
        int before = Torch.numThreads();
        Torch.setNumThreads(1);
        assertEquals(1, Torch.numThreads());
        Torch.setNumThreads(before);
        assertThrows(org.panamasd.TorchException.class, () -> Torch.setNumThreads(0));
    }

    @Test
    void libtorchCallsOpenBlas() {
        String blas = Torch.blasInfo();
        assertTrue(blas.startsWith("OpenBLAS"), blas);
        assertTrue(blas.contains("sgemm_ from") && blas.contains("openblas"), blas);
    }

    @Test
    void versionAndBuildInfo() {
        assertTrue(Torch.version().matches("\\d+\\.\\d+\\.\\d+"), Torch.version());
        assertTrue(Torch.buildInfo().contains("PyTorch built with"), Torch.buildInfo());
    }

    @Test
    void aSeedReproducesRandomTensors() {
        try (Scope scope = Scope.open(); Generator g1 = new Generator(1234); Generator g2 = new Generator(1234)) {
            assertArrayEquals(Tensor.randn(g1, 16).toFloatArray(), Tensor.randn(g2, 16).toFloatArray());
            assertArrayEquals(Tensor.rand(g1, 4).toFloatArray(), Tensor.rand(g2, 4).toFloatArray());
            assertArrayEquals(Tensor.randint(0, 10, g1, 8).toLongArray(), Tensor.randint(0, 10, g2, 8).toLongArray());
            g1.setSeed(7);
            g2.setSeed(8);
            assertFalse(java.util.Arrays.equals(Tensor.randn(g1, 4).toFloatArray(), Tensor.randn(g2, 4).toFloatArray()));
        }
    }
}
