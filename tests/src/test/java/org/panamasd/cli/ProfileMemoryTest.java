package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.MemoryStats;
import org.panamasd.benchmark.BenchmarkDirectory;
import org.panamasd.models.ModelSpecs;
import org.panamasd.support.NativeTest;

/**
 * profile-memory on the tiny SD model's UNet, attention on the math path (the flash kernel holds no score matrix):
 * the profile names the module that holds the allocator's peak (at 32x32 latents the self-attention's scores,
 * 8 x 4 heads x 1024 x 1024 floats in all, dwarf every activation, at most 8 x 64 x 32 x 32 floats = 2 MiB), its live set sums to the allocator's own peak, and the plot, the JSON, the JFR
 * recording and the comparison of two profiles are written.
 */
class ProfileMemoryTest extends NativeTest {
    private static final Path TOKENIZER = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher/tokenizer");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void theProfileNamesTheModuleThatHoldsThePeakAndItsLiveSetIsTheAllocatorsPeak() throws Exception {
        Path model = BenchmarkDirectory.ensure(ModelSpecs.TINY, tmp.resolve("cache"), DType.FLOAT32, TOKENIZER);
        Path big = tmp.resolve("latent32"), small = tmp.resolve("latent16");
        String choice = org.panamasd.Torch.attentionChoice();
        org.panamasd.Torch.setFlashAttention(false);
        CliRun run;
        try {
            run = CliRun.of("profile-memory", "--model", model.toString(), "--part", "unet", "--latent", "32", "--batch", "8", "--out", big.toString());
        } finally {
            org.panamasd.Torch.setAttentionChoice(choice);
        }
        assertEquals(0, run.exitCode(), run.toString());
        long allocatorPeak = MemoryStats.now().peakBytes();  // the profiler reset it when it began
        assertTrue(run.out().contains("allocator peak"), run.out());

        JsonNode report = JSON.readTree(big.resolve("profile.json").toFile());
        JsonNode peak = report.get("peak");
        assertTrue(peak.get("running_module").asText().matches("unet\\..*\\.transformer_blocks\\.0\\.attn1"), peak.toString());
        assertEquals(peak.get("running_module").asText(), peak.get("by_module").get(0).get("module").asText(), "the running module holds the most");
        long live = peak.get("live_bytes").asLong();
        assertTrue(Math.abs(live - allocatorPeak) <= allocatorPeak / 100, "live at the peak " + live + " against the allocator's peak " + allocatorPeak);
        long byModule = 0;
        for (JsonNode g : peak.get("by_module")) byModule += g.get("bytes").asLong();
        assertEquals(live, byModule, "the groups add up to the live set");
        for (String field : List.of("sites", "largest_allocations", "bands", "timeline", "rss", "machine"))
            assertTrue(report.has(field), field);
        assertTrue(report.at("/rss/breakdown_at_peak").has("unexplained_bytes"), report.get("rss").toString());

        BufferedImage png = ImageIO.read(big.resolve("profile.png").toFile());
        assertNotNull(png, "a PNG");
        assertTrue(png.getWidth() >= 800 && png.getHeight() >= 400, png.getWidth() + "x" + png.getHeight());

        List<RecordedEvent> allocations = RecordingFile.readAllEvents(big.resolve("profile.jfr")).stream()
                .filter(e -> e.getEventType().getName().equals("org.panamasd.TensorAllocation")).toList();
        assertTrue(allocations.stream().anyMatch(e -> e.getString("modulePath") != null && e.getString("modulePath").startsWith("unet.")),
                allocations.size() + " allocation events, none with a UNet module path");

        assertEquals(0, CliRun.of("profile-memory", "--model", model.toString(), "--part", "unet", "--latent", "16", "--batch", "8", "--out", small.toString()).exitCode());
        CliRun compared = CliRun.of("profile-memory", "--compare", big.resolve("profile.json").toString(), small.resolve("profile.json").toString());
        assertEquals(0, compared.exitCode(), compared.toString());
        String smallPeak = String.format("%.1f MiB", JSON.readTree(small.resolve("profile.json").toFile()).at("/peak/allocator_peak_bytes").asLong() / (double) (1 << 20));
        assertTrue(compared.out().contains("| allocator peak | " + String.format("%.1f MiB", allocatorPeak / (double) (1 << 20)) + " | " + smallPeak), compared.out());
        assertTrue(compared.out().contains(peak.get("running_module").asText()), "the module rows name the attention: " + compared.out());

        CliRun bad = CliRun.of("profile-memory", "--compare", big.resolve("profile.png").toString(), small.resolve("profile.json").toString());
        assertNotEquals(0, bad.exitCode());
        assertTrue(bad.err().contains("profile.png"), bad.err());
    }

    @Test
    void sdxlsSecondTextEncoderIsNamedAsItsFolderFromItsLoadOn() throws Exception {
        Path model = BenchmarkDirectory.ensure(ModelSpecs.TINY_XL, tmp.resolve("cache"), DType.FLOAT32, TOKENIZER);
        Path out = tmp.resolve("clip");
        // bfloat16: each parameter is converted at load, an allocation in its module
        CliRun run = CliRun.of("profile-memory", "--model", model.toString(), "--part", "clip", "--dtype", "bfloat16", "--out", out.toString());
        assertEquals(0, run.exitCode(), run.toString());
        JsonNode sites = JSON.readTree(out.resolve("profile.json").toFile()).get("sites");
        java.util.Set<String> components = new java.util.TreeSet<>();
        for (JsonNode site : sites) components.add(site.get("module").asText().split("\\.")[0]);
        assertTrue(components.containsAll(List.of("text_encoder", "text_encoder_2")), components.toString());
    }
}
