package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.io.singlefile.LdmKeys;
import org.panamasd.io.singlefile.SingleFileCheckpoint;
import org.panamasd.support.LdmFiles;
import org.panamasd.support.NativeTest;


/**
 * A single original-layout file written from the shipped teacher's diffusers directory (its models' keys put where
 * {@link LdmKeys} says, the VAE's attention weights as 1x1 conv kernels as the LDM layout has them, plus what a
 * training checkpoint carries: schedule buffers, position_ids, an EMA copy) must generate the directory's image
 * through {@code generate --model FILE --config DIR}. This checks the loading and the command line on what a fresh
 * clone has; that the key map is the reference's is the golden sd-single-file-tiny case's job (a map wrong in both
 * directions would pass here). Bad files are refused naming what is wrong.
 */
class GenerateSingleFileTest extends NativeTest {
    private static final Path TEACHER = Paths.root().resolve("models/fashion-teacher");

    @Test
    void aSingleFileGeneratesTheDirectorysImage(@TempDir Path dir) {
        Path file = dir.resolve("teacher.safetensors");
        try (Scope s = Scope.open()) {
            LdmFiles.write(TEACHER, file, Map.of("betas", Tensor.zeros(1000), "model_ema.decay", Tensor.of(new float[] {0.999f})));
        }
        float[] fromDirectory = generate(dir, "dir.png", "--model", TEACHER.toString());
        float[] fromFile = generate(dir, "file.png", "--model", file.toString(), "--config", TEACHER.toString());
        assertArrayEquals(fromDirectory, fromFile, "the single file is the directory's model");
    }

    @Test
    void convertWritesTheSingleFileThatGeneratesTheDirectorysImage(@TempDir Path dir) {
        Path file = dir.resolve("converted.safetensors");
        CliRun converted = CliRun.of(new String[] {"convert", "--model", TEACHER.toString(), "--out", file.toString()});
        assertEquals(0, converted.exitCode(), converted.toString());
        assertTrue(SafeTensors.open(file).contains(LdmKeys.UNET + "out.2.weight"), "the UNet's conv_out under its LDM name");
        float[] fromDirectory = generate(dir, "dir.png", "--model", TEACHER.toString());
        float[] fromFile = generate(dir, "file.png", "--model", file.toString(), "--config", TEACHER.toString());
        assertArrayEquals(fromDirectory, fromFile, "the converted file is the directory's model");
        assertRefused(new String[] {"convert", "--model", TEACHER.toString(), "--out", file.toString()}, "exists");
        assertRefused(new String[] {"convert", "--model", dir.toString(), "--out", dir.resolve("x.safetensors").toString()}, "not a diffusers SD 1.x directory");
    }

    @Test
    void anOpenClipSingleFileGeneratesTheDirectorysImageAndTakesAPredictionType(@TempDir Path dir) {
        Path file = dir.resolve("sd2-layout.safetensors");
        try (Scope s = Scope.open()) {
            LdmFiles.writeOpenClip(TEACHER, file, Map.of());
        }
        float[] fromDirectory = generate(dir, "dir.png", "--model", TEACHER.toString());
        float[] fromFile = generate(dir, "file.png", "--model", file.toString(), "--config", TEACHER.toString());
        assertArrayEquals(fromDirectory, fromFile, "the OpenCLIP-layout file is the directory's model");
        // the teacher predicts v: told it predicts epsilon, the same weights draw another image
        float[] epsilon = generate(dir, "eps.png", "--model", file.toString(), "--config", TEACHER.toString(), "--prediction-type", "epsilon");
        assertFalse(java.util.Arrays.equals(fromFile, epsilon), "--prediction-type reaches the scheduler");
        assertRefused(new String[] {"generate", "--prompt", "x", "--model", file.toString(), "--prediction-type", "sample", "--out", dir.resolve("b.png").toString()}, "--prediction-type must be epsilon or v_prediction");

        Path stray = dir.resolve("stray.safetensors");
        try (Scope s = Scope.open()) {
            LdmFiles.writeOpenClip(TEACHER, stray, Map.of("cond_stage_model.model.transformer.resblocks.0.attn.bias_k", Tensor.zeros(2)));
        }
        assertRefused(new String[] {"generate", "--prompt", "x", "--steps", "1", "--model", stray.toString(), "--config", TEACHER.toString(),
                "--out", dir.resolve("s.png").toString()}, "resblocks.0.attn.bias_k", "found no place");
    }

    @Test
    void anSdxlSingleFileGeneratesTheDirectorysImage(@TempDir Path dir) {
        Path xl = org.panamasd.benchmark.BenchmarkDirectory.ensure(org.panamasd.models.ModelSpecs.TINY_XL, dir.resolve("cache"), org.panamasd.DType.FLOAT32,
                TEACHER.resolve("tokenizer"));
        Path file = dir.resolve("sdxl.safetensors");
        LdmFiles.writeXl(xl, file);
        float[] fromDirectory = generate(dir, "dir.png", "--model", xl.toString());
        float[] fromFile = generate(dir, "file.png", "--model", file.toString(), "--config", xl.toString());
        assertArrayEquals(fromDirectory, fromFile, "the SDXL single file is the directory's model");
        assertRefused(new String[] {"generate", "--prompt", "x", "--steps", "1", "--model", file.toString(), "--out", dir.resolve("d.png").toString()}, "not SDXL base's", "--config");
        assertRefused(new String[] {"generate", "--prompt", "x", "--steps", "1", "--model", file.toString(), "--config", TEACHER.toString(),
                "--out", dir.resolve("s.png").toString()}, "is an SDXL file");
    }

    @Test
    void badFilesAreRefusedNamingWhatIsWrong(@TempDir Path dir) throws Exception {
        Path extra = dir.resolve("extra.safetensors");
        try (Scope s = Scope.open()) {
            LdmFiles.write(TEACHER, extra, Map.of("model.diffusion_model.input_blocks.99.0.weight", Tensor.zeros(2)));
        }
        assertRefused(new String[] {"generate", "--prompt", "x", "--steps", "1", "--model", extra.toString(), "--config", TEACHER.toString(),
                "--out", dir.resolve("x.png").toString()}, "input_blocks.99.0.weight", "found no place");

        assertRefused(new String[] {"generate", "--prompt", "x", "--steps", "1", "--model", extra.toString(), "--out", dir.resolve("y.png").toString()}, "not SD 1.x's", "--config");

        Path pickle = dir.resolve("model.ckpt");
        Files.write(pickle, new byte[] {(byte) 0x80, 2});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SingleFileCheckpoint.open(pickle));
        assertTrue(e.getMessage().contains("pickle") && e.getMessage().contains(".safetensors"), e.getMessage());

        Path diffusers = TEACHER.resolve("unet/diffusion_pytorch_model.safetensors");
        IllegalArgumentException layout = assertThrows(IllegalArgumentException.class, () -> SingleFileCheckpoint.open(diffusers));
        assertTrue(layout.getMessage().contains("not an original-layout") && layout.getMessage().contains("conv_in"), layout.getMessage());
    }

    /** The command line exits with 2 (bad input) and its error names every fragment. */
    private static void assertRefused(String[] args, String... fragments) {
        CliRun run = CliRun.of(args);
        assertEquals(2, run.exitCode(), run.toString());
        for (String fragment : fragments) assertTrue(run.err().contains(fragment), run.err());
    }

    private static float[] generate(Path dir, String name, String... model) {
        String[] args = {"generate", "--prompt", "a photo of a bag", "--steps", "2", "--guidance", "3", "--height", "32", "--width", "32", "--upscale", "1",
                "--out", dir.resolve(name).toString()};
        return CliRun.pixels(dir.resolve(name), CliRun.concat(args, model));
    }
}
