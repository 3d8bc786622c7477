package org.panamasd.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.MemoryStats;
import org.panamasd.support.NativeTest;

/** A load that fails part way closes what it loaded; one that succeeds hands everything to the pipeline. */
class LoadedComponentsTest extends NativeTest {
    private static final Path TEACHER = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher");

    @Test
    void aFailedLoadClosesWhatItLoadedLastFirstAndKeepsCloseFailures() {
        List<String> closed = new ArrayList<>();
        RuntimeException failure = new IllegalArgumentException("the vae is corrupt");
        var thrown = assertThrows(IllegalArgumentException.class, () -> {
            try (LoadedComponents c = new LoadedComponents()) {
                c.keep(() -> closed.add("text_encoder"));
                c.keep(() -> {
                    closed.add("unet");
                    throw new IllegalStateException("unet close failed");
                });
                throw failure;
            }
        });
        assertSame(failure, thrown);
        assertEquals(List.of("unet", "text_encoder"), closed);
        assertEquals(1, thrown.getSuppressed().length);
        assertEquals("unet close failed", thrown.getSuppressed()[0].getSuppressed()[0].getMessage());
    }

    @Test
    void aPipelineThatWasBuiltOwnsItsModels() {
        List<String> closed = new ArrayList<>();
        String pipeline;
        try (LoadedComponents c = LoadedComponents.of(() -> closed.add("unet"))) {
            pipeline = c.handOver("pipeline");
        }
        assertEquals("pipeline", pipeline);
        assertTrue(closed.isEmpty(), "nothing closed: the pipeline owns them");
    }

    /** The shipped teacher with its VAE's weights cut short: the text encoder and UNet loaded first are freed again. */
    @Test
    void aDirectoryWhoseVaeIsCorruptLeaksNoWeights(@TempDir Path dir) throws IOException {
        Path copy = dir.resolve("teacher");
        try (Stream<Path> files = Files.walk(TEACHER)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path target = copy.resolve(TEACHER.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(target);
                else Files.copy(f, target);
            }
        }
        Path vae = copy.resolve("vae/diffusion_pytorch_model.safetensors");
        byte[] bytes = Files.readAllBytes(vae);
        Files.write(vae, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        long live = MemoryStats.liveTensorCount();
        var e = assertThrows(IllegalArgumentException.class, () -> StableDiffusionPipeline.load(copy));
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.safetensors"), e.getMessage());
        assertEquals(live, MemoryStats.liveTensorCount(), "the text encoder's and UNet's weights were freed");
    }
}
