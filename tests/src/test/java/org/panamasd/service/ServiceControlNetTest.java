package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.ImageFiles;
import org.panamasd.support.NativeTest;
import org.panamasd.support.ShippedControlNet;

/**
 * A service started with a ControlNet ({@code serve --controlnet DIR}) guides the requests that bring a
 * "control_image": the image changes, at "control_scale" 0 it is the plain one; a conditioning image of another
 * size, or one sent to a service without a ControlNet, is a 400 naming the field.
 */
class ServiceControlNetTest extends NativeTest {

    @Test
    void requestsWithAControlImageAreGuided(@TempDir Path dir) throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        Path controlnet = ShippedControlNet.write(dir.resolve("controlnet"));
        String edges, small;
        try (Scope s = Scope.open()) {
            edges = Base64.getEncoder().encodeToString(ImageFiles.pngBytes(Tensor.arange(0, 32, 1, DType.FLOAT32).div(31).reshape(1, 1, 1, 32).expand(1, 3, 32, 32)));
            small = Base64.getEncoder().encodeToString(ImageFiles.pngBytes(Tensor.ones(1, 3, 16, 16)));
        }
        String base = "{\"prompt\": \"a bag\", \"steps\": 1, \"seed\": 2, \"width\": 32, \"height\": 32";
        GenerationService service = GenerationService.start(ServiceSettings.of(ServiceApiTest.MODEL).withControlNet(controlnet));
        try {
            byte[] plain = image(service, base + "}"), guided = image(service, base + ", \"control_image\": \"" + edges + "\"}");
            byte[] zero = image(service, base + ", \"control_image\": \"" + edges + "\", \"control_scale\": 0}");
            assertFalse(java.util.Arrays.equals(plain, guided), "the ControlNet changes the image");
            assertArrayEquals(plain, zero, "scale 0 adds nothing");
            BadRequest wrongSize = assertThrows(BadRequest.class, () -> service.parse(ServiceClient.JSON.readTree(base + ", \"control_image\": \"" + small + "\"}")));
            assertEquals("control_image", wrongSize.field(), wrongSize.getMessage());
        } finally {
            service.stop();
        }
        GenerationService without = GenerationService.start(ServiceSettings.of(ServiceApiTest.MODEL));
        try {
            BadRequest none = assertThrows(BadRequest.class, () -> without.parse(ServiceClient.JSON.readTree(base + ", \"control_image\": \"" + edges + "\"}")));
            assertTrue(none.getMessage().contains("no ControlNet"), none.getMessage());
        } finally {
            without.stop();
        }
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }

    private static byte[] image(GenerationService service, String body) throws Exception {
        Job job = service.submit(service.parse(ServiceClient.JSON.readTree(body)));
        for (int i = 0; i < 6000 && !job.state().finished(); i++) Thread.sleep(10);
        assertEquals(Job.State.DONE, job.state(), job.error());
        return job.png();
    }
}
