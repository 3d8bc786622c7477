package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.support.NativeTest;

/**
 * A request's "loras" field names adapters of the service's LoRA directory: the image changes with one, a request
 * without it (before and after) gets the plain image, scale 0 is the plain image; unknown names, paths and
 * out-of-range scales are 400s naming the field.
 */
class ServiceLoraTest extends NativeTest {
    private static final String KOHYA = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_v";

    @Test
    void requestsNameAdaptersOfTheServicesDirectory(@TempDir Path dir) throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        Path loras = Files.createDirectory(dir.resolve("loras"));
        try (Scope s = Scope.open(); Generator g = new Generator(4)) {
            SafeTensorsWriter.write(Map.of(KOHYA + ".lora_down.weight", Tensor.randn(g, 4, 32), KOHYA + ".lora_up.weight", Tensor.randn(g, 96, 4)),
                    Map.of(), loras.resolve("style.safetensors"));
        }
        GenerationService service = GenerationService.start(ServiceSettings.of(ServiceApiTest.MODEL).withLoraDirectory(loras));
        try {
            byte[] plain = image(service, ""), styled = image(service, ", \"loras\": {\"style\": 1}"), after = image(service, "");
            byte[] zero = image(service, ", \"loras\": {\"style\": 0}");
            assertFalse(java.util.Arrays.equals(plain, styled), "the adapter changes the image");
            assertArrayEquals(plain, after, "the weights are the model's again for a request without it");
            assertArrayEquals(plain, zero, "scale 0 is the model as it is");
            for (String bad : new String[] {"{\"other\": 1}", "{\"../loras/style\": 1}", "{\"style\": 9}", "{\"style\": \"x\"}", "[\"style\"]"}) {
                BadRequest e = assertThrows(BadRequest.class, () -> service.parse(ServiceClient.JSON.readTree("{\"prompt\": \"a coat\", \"loras\": " + bad + "}")), bad);
                assertTrue(e.getMessage().contains("loras"), e.getMessage());
            }
        } finally {
            service.stop();
        }
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }

    private static byte[] image(GenerationService service, String extra) throws Exception {
        Job job = service.submit(service.parse(ServiceClient.JSON.readTree("{\"prompt\": \"a coat\", \"steps\": 1, \"seed\": 5" + extra + "}")));
        for (int i = 0; i < 6000 && !job.state().finished(); i++) Thread.sleep(10);
        assertEquals(Job.State.DONE, job.state(), job.error());
        return job.png();
    }
}
