package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.ImageFiles;
import org.panamasd.support.NativeTest;
import org.panamasd.support.ShippedControlNet;

/**
 * {@code generate --controlnet DIR --control-image FILE [--control-scale S]} on the shipped Turbo student with a
 * ControlNet of its UNet's shape (random weights, written as a diffusers directory): at scale 0 the image is the
 * plain run's, at scale 1 it changes; a conditioning image of another size, or options without their partner, are
 * refused naming the file or the option. That the ControlNet computes what diffusers' does is the golden
 * sd-controlnet-tiny case's job.
 */
class GenerateControlNetTest extends NativeTest {

    @Test
    void theControlNetGuidesAtItsScaleAndRefusesWhatDoesNotFit(@TempDir Path dir) throws Exception {
        Path controlnet = dir.resolve("controlnet"), edges = dir.resolve("edges.png"), small = dir.resolve("small.png");
        ShippedControlNet.write(controlnet);
        try (Scope s = Scope.open()) {
            Tensor ramp = Tensor.arange(0, 32, 1, DType.FLOAT32).div(31).reshape(1, 1, 1, 32).expand(1, 3, 32, 32);
            ImageFiles.writePng(ramp, edges);
            ImageFiles.writePng(Tensor.ones(1, 3, 16, 16), small);
        }
        float[] plain = run(dir, "plain.png"), zero = run(dir, "zero.png", "--controlnet", controlnet.toString(), "--control-image", edges.toString(),
                "--control-scale", "0");
        float[] one = run(dir, "one.png", "--controlnet", controlnet.toString(), "--control-image", edges.toString());
        assertArrayEquals(plain, zero, "scale 0 adds nothing");
        double diff = 0;
        for (int i = 0; i < plain.length; i++) diff += Math.abs(plain[i] - one[i]);
        assertTrue(diff / plain.length > 1e-3, "the ControlNet changes the image: mean |diff| " + diff / plain.length);

        CliRun wrongSize = CliRun.of("generate", "--prompt", "a bag", "--steps", "1", "--controlnet", controlnet.toString(), "--control-image", small.toString(),
                "--out", dir.resolve("x.png").toString());
        assertEquals(2, wrongSize.exitCode(), wrongSize.toString());
        assertTrue(wrongSize.err().contains(small.toString()) && wrongSize.err().contains("16x16"), wrongSize.err());
        CliRun alone = CliRun.of("generate", "--prompt", "a bag", "--control-image", edges.toString());
        assertEquals(2, alone.exitCode(), alone.toString());
        assertTrue(alone.err().contains("--controlnet"), alone.err());
        assertTrue(Files.isRegularFile(dir.resolve("one.png")));
    }

    private static float[] run(Path dir, String name, String... extra) {
        String[] args = {"generate", "--prompt", "a photo of a bag", "--steps", "1", "--upscale", "1", "--out", dir.resolve(name).toString()};
        return CliRun.pixels(dir.resolve(name), CliRun.concat(args, extra));
    }
}
