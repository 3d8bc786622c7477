package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.support.NativeTest;

/**
 * {@code generate --lora FILE[:SCALE]} on the shipped Turbo student with a kohya-layout adapter on one cross-attention
 * projection: at scale 0 the image is the plain run's exactly, at scale 1 it differs; an adapter for another
 * model's shapes is refused naming the file and the key; {@code inspect} describes the adapter.
 */
class GenerateLoraTest extends NativeTest {
    private static final String KOHYA = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_v";

    @Test
    void scaleZeroIsThePlainRunAndScaleOneChangesTheImage(@TempDir Path dir) {
        Path lora = dir.resolve("style.safetensors");
        try (Scope s = Scope.open(); Generator g = new Generator(4)) {
            SafeTensorsWriter.write(Map.of(KOHYA + ".lora_down.weight", Tensor.randn(g, 4, 32), KOHYA + ".lora_up.weight", Tensor.randn(g, 96, 4),
                    KOHYA + ".alpha", Tensor.of(new float[] {4f})), Map.of(), lora);
        }
        float[] plain = run(dir, "plain.png"), zero = run(dir, "zero.png", "--lora", lora + ":0"), one = run(dir, "one.png", "--lora", lora.toString());
        assertArrayEquals(plain, zero, "scale 0 leaves the model as it is");
        double diff = 0;
        for (int i = 0; i < plain.length; i++) diff += Math.abs(plain[i] - one[i]);
        assertTrue(diff / plain.length > 1e-3, "the adapter changes the image: mean |diff| " + diff / plain.length);
        float[] again = run(dir, "again.png");
        assertArrayEquals(plain, again, "the plain run is deterministic, so the equality at scale 0 means something");

        java.util.Map<String, String> text = org.panamasd.io.PngText.read(dir.resolve("one.png"));
        assertEquals(lora.toString(), text.get("lora"), "the PNG records the adapter: " + text);
        assertTrue(text.get("parameters").contains("lora: " + lora), text.get("parameters"));

        CliRun inspect = CliRun.of("inspect", "--summary", lora.toString());
        assertEquals(0, inspect.exitCode(), inspect.toString());
        assertTrue(inspect.out().contains("LoRA adapter (kohya layout): 1 layers (1 unet), rank 4, alpha 4"), inspect.out());
    }

    @Test
    void anAdapterForAnotherModelIsRefusedNamingTheFileAndTheKey(@TempDir Path dir) {
        Path lora = dir.resolve("other.safetensors");
        try (Scope s = Scope.open(); Generator g = new Generator(5)) {
            SafeTensorsWriter.write(Map.of(KOHYA + ".lora_down.weight", Tensor.randn(g, 4, 768), KOHYA + ".lora_up.weight", Tensor.randn(g, 320, 4)),
                    Map.of(), lora);
        }
        CliRun run = CliRun.of("generate", "--prompt", "a bag", "--steps", "1", "--lora", lora.toString(), "--out", dir.resolve("x.png").toString());
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains(lora.toString()) && run.err().contains(KOHYA) && run.err().contains("does not fit"), run.err());
    }

    private static float[] run(Path dir, String name, String... extra) {
        String[] args = {"generate", "--prompt", "a photo of a bag", "--steps", "1", "--upscale", "1", "--out", dir.resolve(name).toString()};
        return CliRun.pixels(dir.resolve(name), CliRun.concat(args, extra));
    }
}
