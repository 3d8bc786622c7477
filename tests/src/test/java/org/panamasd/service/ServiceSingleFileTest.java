package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.pipelines.ModelSource;
import org.panamasd.support.LdmFiles;
import org.panamasd.support.NativeTest;

/** The service serves a single original-layout file (built from a config directory) as it serves the directory it came from. */
class ServiceSingleFileTest extends NativeTest {

    @Test
    void aSingleFileServesTheDirectorysImage(@TempDir Path dir) throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        Path file = dir.resolve("model.safetensors");
        try (Scope s = Scope.open()) {
            LdmFiles.write(ServiceApiTest.MODEL, file, Map.of("betas", Tensor.zeros(1000)));
        }
        byte[] fromDirectory = image(ServiceSettings.of(ServiceApiTest.MODEL));
        byte[] fromFile = image(ServiceSettings.of(new ModelSource(file, ServiceApiTest.MODEL, null, false)));
        assertArrayEquals(fromDirectory, fromFile, "the same PNG from the single file");
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }

    private static byte[] image(ServiceSettings settings) throws Exception {
        GenerationService service = GenerationService.start(settings);
        try {
            Job job = service.submit(service.parse(ServiceClient.JSON.readTree("{\"prompt\": \"a coat\", \"steps\": 2, \"seed\": 3}")));
            for (int i = 0; i < 6000 && !job.state().finished(); i++) Thread.sleep(10);
            assertEquals(Job.State.DONE, job.state(), job.error());
            return job.png();
        } finally {
            service.stop();
        }
    }
}
