package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.ImageFiles;
import org.panamasd.support.NativeTest;

/**
 * Inpainting through the service ("image", "mask", "strength" as base64 PNGs) gives the image the pipeline gives for
 * the same seed (the shipped student, a 4-channel UNet, so the kept region is blended back every step); its size
 * is the image's; mismatched or oversized pictures and stray fields are 400s naming the field.
 */
class ServiceInpaintTest extends NativeTest {

    @Test
    void aRequestWithImageAndMaskInpaints() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        String image, mask, small, big;
        try (Scope s = Scope.open()) {
            image = png(Tensor.cat(3, Tensor.ones(1, 3, 32, 16), Tensor.zeros(1, 3, 32, 16)));  // white left, black right
            mask = png(Tensor.cat(3, Tensor.zeros(1, 3, 32, 16), Tensor.ones(1, 3, 32, 16)));   // repaint the right half
            small = png(Tensor.ones(1, 3, 16, 16));
            big = png(Tensor.ones(1, 3, 8, 1024));
        }
        GenerationService service = GenerationService.start(ServiceSettings.of(ServiceApiTest.MODEL));
        try {
            Job job = service.submit(service.parse(ServiceClient.JSON.readTree(
                    "{\"prompt\": \"a bag\", \"steps\": 2, \"seed\": 9, \"image\": \"" + image + "\", \"mask\": \"" + mask + "\"}")));
            for (int i = 0; i < 6000 && !job.state().finished(); i++) Thread.sleep(10);
            assertEquals(Job.State.DONE, job.state(), job.error());
            try (Scope s = Scope.open()) {
                java.nio.file.Path file = java.nio.file.Files.createTempFile("inpaint", ".png");
                java.nio.file.Files.write(file, job.png());
                Tensor got = ImageFiles.readRgb(file);
                java.nio.file.Files.delete(file);
                long scale = got.size(3) / 32;
                assertEquals(32 * scale, got.size(2), "the image's size, upscaled as the model asks");
                double keptEdge = got.narrow(3, 0, 8 * scale).mean().item();
                assertTrue(keptEdge > 0.8, "the kept left edge stays white: " + keptEdge);
            }
            String[][] bad = {{"{\"image\": \"" + image + "\"}", "mask"}, {"{\"image\": \"" + image + "\", \"mask\": \"" + small + "\"}", "mask"},
                    {"{\"image\": \"" + big + "\", \"mask\": \"" + big + "\"}", "image"}, {"{\"image\": \"not base64!\", \"mask\": \"" + mask + "\"}", "image"},
                    {"{\"image\": \"" + image + "\", \"mask\": \"" + mask + "\", \"width\": 64}", "width"}, {"{\"strength\": 0.5}", "strength"},
                    {"{\"image\": \"" + image + "\", \"mask\": \"" + mask + "\", \"strength\": 0}", "strength"}};
            for (String[] b : bad) {
                String body = "{\"prompt\": \"a bag\", " + b[0].substring(1);
                BadRequest e = assertThrows(BadRequest.class, () -> service.parse(ServiceClient.JSON.readTree(body)), b[0]);
                assertTrue(e.getMessage().contains(b[1]), b[1] + ": " + e.getMessage());
            }
        } finally {
            service.stop();
        }
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }

    private static String png(Tensor image) {
        return Base64.getEncoder().encodeToString(ImageFiles.pngBytes(image));
    }
}
