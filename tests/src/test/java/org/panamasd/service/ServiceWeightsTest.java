package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.MemoryStats;
import org.panamasd.nn.WeightFormat;
import org.panamasd.support.NativeTest;

/** The service with int8 weights ({@code serve --weights int8}): the dense service's image within 30 dB PSNR; no LoRA directory beside them. */
class ServiceWeightsTest extends NativeTest {

    @Test
    void anInt8ServiceDrawsTheDenseServicesImageWithinTheBound() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        BufferedImage dense = image(ServiceSettings.of(ServiceApiTest.MODEL));
        BufferedImage int8 = image(ServiceSettings.of(ServiceApiTest.MODEL).withWeights(WeightFormat.INT8));
        assertEquals(dense.getWidth(), int8.getWidth());
        double squared = 0;
        long n = 0;
        for (int y = 0; y < dense.getHeight(); y++)
            for (int x = 0; x < dense.getWidth(); x++)
                for (int shift = 0; shift <= 16; shift += 8) {
                    int d = ((dense.getRGB(x, y) >> shift) & 0xFF) - ((int8.getRGB(x, y) >> shift) & 0xFF);
                    squared += d * d;
                    n++;
                }
        assertTrue(squared > 0, "the int8 service drew the dense one's exact image: its weights were not quantized");
        double psnr = 10 * Math.log10(255.0 * 255.0 / (squared / n));
        assertTrue(psnr >= 30, "PSNR " + psnr + " dB against the dense service's image");
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }

    @Test
    void aLoraDirectoryNeedsDenseWeights(@TempDir Path dir) {
        var e = assertThrows(IllegalArgumentException.class,
                () -> ServiceSettings.of(ServiceApiTest.MODEL).withWeights(WeightFormat.INT8).withLoraDirectory(dir));
        assertTrue(e.getMessage().contains("LoRA") && e.getMessage().contains("int8"), e.getMessage());
    }

    private static BufferedImage image(ServiceSettings settings) throws Exception {
        GenerationService service = GenerationService.start(settings);
        try {
            Job job = service.submit(service.parse(ServiceClient.JSON.readTree("{\"prompt\": \"a coat\", \"steps\": 2, \"seed\": 3}")));
            for (int i = 0; i < 6000 && !job.state().finished(); i++) Thread.sleep(10);
            assertEquals(Job.State.DONE, job.state(), job.error());
            return ImageIO.read(new ByteArrayInputStream(job.png()));
        } finally {
            service.stop();
        }
    }
}
