package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.PngText;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.support.NativeTest;

/** generate on the shipped Turbo student and inspect on what it wrote, on safetensors files and on model directories. */
class GenerateAndInspectTest extends NativeTest {
    private static final Path TURBO = Paths.root().resolve("models/fashion-turbo");

    @Test
    void generateWritesABatchGridWithItsSettingsThatInspectReadsBack(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("boots.png");
        CliRun run = CliRun.of("generate", "--prompt", "a photo of an ankle boot", "--negative", "blurry", "--batch", "2", "--seed", "7",
                "--out", png.toString());
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().contains("steps/s"), "the progress bar's last state: " + run.out());

        BufferedImage grid = ImageIO.read(png.toFile());
        assertEquals(2 * 32 * 8, grid.getWidth(), "two 32 px images side by side, 8x as panama-sd.json says");
        assertEquals(32 * 8, grid.getHeight());
        assertNotEquals(cell(grid, 0), cell(grid, 1), "seeds 7 and 8 draw different images");

        Map<String, String> text = PngText.read(png);
        assertEquals("a photo of an ankle boot", text.get("prompt"));
        assertEquals("blurry", text.get("negative_prompt"));
        assertEquals("7", text.get("seed"));
        assertEquals("1", text.get("steps"), "the model's panama-sd.json: one step");
        assertEquals("0.0", text.get("guidance"));
        assertEquals("LCMScheduler", text.get("scheduler"), "the student's ancestral scheduler");
        assertTrue(text.get("model").endsWith("models/fashion-turbo"), text.get("model"));
        assertTrue(text.get("batch").startsWith("2"), text.get("batch"));
        assertTrue(text.get("parameters").startsWith("a photo of an ankle boot\nNegative prompt: blurry\nSteps: 1, Sampler: LCMScheduler"),
                text.get("parameters"));
        assertTrue(text.get("parameters").contains("Seed: 7, Size: 32x32"), text.get("parameters"));

        CliRun inspect = CliRun.of("inspect", png.toString());
        assertEquals(0, inspect.exitCode(), inspect.toString());
        for (String line : new String[] {"prompt           a photo of an ankle boot", "negative_prompt  blurry", "seed             7",
                "scheduler        LCMScheduler", "Negative prompt: blurry"})
            assertTrue(inspect.out().contains(line), "inspect shows '" + line + "':\n" + inspect.out());
    }

    @Test
    void theSameSeedDrawsTheSameImage(@TempDir Path dir) throws IOException {
        Path a = dir.resolve("a.png"), b = dir.resolve("b.png");
        assertEquals(0, CliRun.of("generate", "--prompt", "a sneaker", "--seed", "8", "--out", a.toString()).exitCode());
        assertEquals(0, CliRun.of("generate", "--prompt", "a sneaker", "--seed", "7", "--batch", "2", "--out", b.toString()).exitCode());
        assertEquals(cell(ImageIO.read(a.toFile()), 0), cell(ImageIO.read(b.toFile()), 1), "a batch's second image is seed + 1's image");
    }

    @Test
    void generateComputesInBfloat16WhenAskedAndRefusesOtherDtypes(@TempDir Path dir) {
        Path png = dir.resolve("bf16.png");
        CliRun run = CliRun.of("generate", "--prompt", "a sneaker", "--dtype", "bfloat16", "--out", png.toString());
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().contains(" in bfloat16 "), run.out());
        assertTrue(Files.exists(png));
        CliRun wrong = CliRun.of("generate", "--prompt", "a sneaker", "--dtype", "float16", "--out", dir.resolve("x.png").toString());
        assertEquals(2, wrong.exitCode(), wrong.toString());
        assertTrue(wrong.err().contains("float32, bfloat16 or auto"), wrong.err());
        assertFalse(Files.exists(dir.resolve("x.png")));
        // without --dtype, generate computes as auto decides for this CPU; float32 when asked
        CliRun byDefault = CliRun.of("generate", "--prompt", "a sneaker", "--out", dir.resolve("d.png").toString());
        assertEquals(0, byDefault.exitCode(), byDefault.toString());
        boolean bf16 = org.panamasd.nn.Precision.AUTO.on(org.panamasd.nn.CpuFeatures.current()).dtype() == org.panamasd.DType.BFLOAT16;
        assertEquals(bf16, byDefault.out().contains(" in bfloat16 "), byDefault.out());
        CliRun float32 = CliRun.of("generate", "--prompt", "a sneaker", "--dtype", "float32", "--out", dir.resolve("f.png").toString());
        assertFalse(float32.out().contains(" in bfloat16 "), float32.out());
    }

    @Test
    void vaeTilingDecodesByTilesWhenAskedAndRefusesBadTiles(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole.png"), tiled = dir.resolve("tiled.png");
        assertEquals(0, CliRun.of("generate", "--prompt", "a sneaker", "--vae-tiling", "never", "--out", whole.toString()).exitCode());
        assertEquals(0, CliRun.of("generate", "--prompt", "a sneaker", "--vae-tiling", "always", "--vae-tile", "16", "--out", tiled.toString()).exitCode());
        var a = ImageIO.read(whole.toFile());
        var b = ImageIO.read(tiled.toFile());
        long differing = 0, total = 0;
        double squared = 0;
        for (int y = 0; y < a.getHeight(); y++)
            for (int x = 0; x < a.getWidth(); x++)
                for (int shift = 0; shift < 24; shift += 8) {
                    int d = ((a.getRGB(x, y) >> shift) & 255) - ((b.getRGB(x, y) >> shift) & 255);
                    squared += d * d;
                    total++;
                    if (d != 0) differing++;
                }
        assertTrue(differing > 0, "tiles are normalised on their own: the tiled image is not the whole decode's");
        double psnr = 10 * Math.log10(255.0 * 255.0 / (squared / total));
        assertTrue(psnr > 20, "tiled vs whole decode: PSNR " + psnr + " dB");
        CliRun odd = CliRun.of("generate", "--prompt", "a sneaker", "--vae-tiling", "always", "--vae-tile", "13", "--out", dir.resolve("x.png").toString());
        assertEquals(2, odd.exitCode(), odd.toString());
        assertTrue(odd.err().contains("13 pixels"), odd.err());
        CliRun mode = CliRun.of("generate", "--prompt", "a sneaker", "--vae-tiling", "sometimes", "--out", dir.resolve("x.png").toString());
        assertEquals(2, mode.exitCode(), mode.toString());
        assertTrue(mode.err().contains("auto, always or never"), mode.err());
    }

    @Test
    void aRejectedSizeFailsBeforeAnyStepWithOneLine(@TempDir Path dir) {
        CliRun run = CliRun.of("generate", "--prompt", "a bag", "--height", "36", "--out", dir.resolve("x.png").toString());
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains("divisible by 8") && run.err().contains("36"), run.err());
        assertEquals("", run.out(), "no progress line for steps that never ran");
        assertFalse(Files.exists(dir.resolve("x.png")));
    }

    @Test
    void inspectListsASafetensorsFilesTensors(@TempDir Path dir) {
        Path file = dir.resolve("weights.safetensors");
        try (Scope scope = Scope.open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("encoder.weight", Tensor.zeros(3, 4).to(DType.FLOAT16));
            tensors.put("encoder.bias", Tensor.zeros(3));
            SafeTensorsWriter.write(tensors, Map.of("format", "pt"), file);
        }
        CliRun run = CliRun.of("inspect", file.toString());
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().contains("2 tensors, 15 parameters"), run.out());
        assertTrue(run.out().matches("(?s).*encoder\\.weight\\s+float16\\s+\\[3, 4]\\s+12\\n.*"), run.out());
        assertTrue(run.out().matches("(?s).*encoder\\.bias\\s+float32\\s+\\[3]\\s+3\\n.*"), run.out());
        assertTrue(run.out().contains("format=pt"), "metadata: " + run.out());
    }

    @Test
    void inspectNamesTheFileAndTheProblemOfACorruptOne(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("broken.safetensors");
        Files.write(file, new byte[] {(byte) 0xff, 0x7f, 0, 0, 0, 0, 0, 0, '{', '}'});
        CliRun run = CliRun.of("inspect", file.toString());
        assertEquals(2, run.exitCode(), run.toString());
        assertEquals(1, run.err().lines().count(), run.err());
        assertTrue(run.err().contains("broken.safetensors") && run.err().contains("declares a header"), run.err());
        Path png = Files.writeString(dir.resolve("broken.png"), "not a png");
        CliRun image = CliRun.of("inspect", png.toString());
        assertEquals(2, image.exitCode(), image.toString());
        assertEquals(1, image.err().lines().count(), image.err());
        assertTrue(image.err().contains("broken.png"), image.err());
        CliRun missing = CliRun.of("inspect", dir.resolve("nothing-here").toString());
        assertEquals(2, missing.exitCode(), missing.toString());
        assertTrue(missing.err().contains("nothing-here") && missing.err().contains("no such file"), missing.err());
    }

    @Test
    void inspectShowsAWholeModelDirectoryAndFindsNoProblem() {
        CliRun run = CliRun.of("inspect", TURBO.toString());
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().contains("StableDiffusionPipeline"), run.out());
        for (String component : new String[] {"unet", "vae", "text_encoder", "tokenizer", "scheduler"})
            assertTrue(run.out().contains("\n  " + component + " "), component + " listed:\n" + run.out());
        assertTrue(run.out().contains("unet/diffusion_pytorch_model.safetensors:"), run.out());
        assertTrue(run.out().matches("(?s).*\\n  conv_in\\.weight\\s+float16\\s+\\[64, 4, 3, 3]\\s+2,304\\n.*"), "a UNet tensor: " + run.out());
        assertTrue(run.out().contains("no problems found"), run.out());
        CliRun summary = CliRun.of("inspect", "--summary", TURBO.toString());
        assertFalse(summary.out().contains("conv_in.weight"), "--summary leaves the tensors out");
    }

    @Test
    void inspectReportsAMissingComponentAndExits2(@TempDir Path dir) throws IOException {
        Path model = dir.resolve("model");
        Files.createDirectories(model);
        Files.copy(TURBO.resolve("model_index.json"), model.resolve("model_index.json"));
        for (String component : new String[] {"tokenizer", "text_encoder", "unet", "scheduler"})  // no vae/
            Files.createSymbolicLink(model.resolve(component), TURBO.resolve(component).toRealPath());
        Files.createDirectories(model.resolve("broken"));
        Files.writeString(model.resolve("broken/config.json"), "{not json");
        String index = Files.readString(model.resolve("model_index.json")).replace("\"scheduler\":", "\"broken\": [\"diffusers\", \"Thing\"],\n  \"scheduler\":");
        Files.writeString(model.resolve("model_index.json"), index);

        CliRun run = CliRun.of("inspect", model.toString());
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.out().contains("2 problem(s):"), run.out());
        assertTrue(run.out().contains("- vae/: missing (model_index.json lists AutoencoderKL)"), run.out());
        assertTrue(run.out().contains("- broken/config.json:"), run.out());
        assertTrue(run.err().startsWith("panama-sd inspect: " + model + " has 2 problem(s)"), run.err());
    }

    /** The pixels of the i-th 256 px cell of a one-row grid. */
    private static java.util.List<Integer> cell(BufferedImage grid, int i) {
        java.util.List<Integer> pixels = new java.util.ArrayList<>();
        for (int y = 0; y < 256; y++) for (int x = 0; x < 256; x++) pixels.add(grid.getRGB(i * 256 + x, y));
        return pixels;
    }
}
