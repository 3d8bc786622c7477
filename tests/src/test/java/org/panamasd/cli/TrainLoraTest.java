package org.panamasd.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.lora.LoraAdapter;
import org.panamasd.support.NativeTest;

/**
 * A LoRA trained here loads back with the same images: {@code train-t2i --lora-rank} and {@code train-add
 * --lora-rank} on the shipped teacher (a few steps, a learning rate high enough to move it) write a diffusers
 * LoRA file, and {@code generate --model TEACHER --lora FILE} draws exactly the image of the fine-tuned model the
 * run wrote, which differs from the teacher's own.
 */
class TrainLoraTest extends NativeTest {
    private static final Path TEACHER = Paths.root().resolve("models/fashion-teacher");

    @Test
    void aTextToImageLoraReproducesTheFineTunedModel(@TempDir Path dir) {
        Path out = dir.resolve("t2i");
        CliRun train = CliRun.of("train-t2i", "--base", TEACHER.toString(), "--lora-rank", "4", "--out", out.toString(), "--steps", "4", "--batch", "8",
                "--images", "64", "--lr", "1e-2", "--warmup", "1", "--grid-steps", "1", "--checkpoint-every", "2");
        assertEquals(0, train.exitCode(), train.toString());
        Path adapter = out.resolve("pytorch_lora_weights.safetensors");
        try (LoraAdapter a = LoraAdapter.load(adapter)) {
            assertEquals("diffusers", a.format());
            assertTrue(a.layers().stream().allMatch(l -> l.component().equals("unet") && l.rank() == 4), "UNet layers of rank 4");
        }
        // float32: fusing W + delta equals the fine-tuned weights there; in bfloat16 (auto's choice on some CPUs) both round apart
        String[] common = {"generate", "--prompt", "a photo of a sneaker", "--steps", "3", "--seed", "5", "--dtype", "float32"};
        assertSameImageAsTheFineTunedModel(dir, out.resolve("model"), adapter, common);
    }

    @Test
    void anAddStudentTrainedAsALoraReproducesTheStudent(@TempDir Path dir) {
        Path out = dir.resolve("add");
        CliRun train = CliRun.of("train-add", "--teacher", TEACHER.toString(), "--features", Paths.root().resolve("models/fashion-feature-net").toString(),
                "--lora-rank", "4", "--out", out.toString(), "--steps", "3", "--batch", "4", "--images", "64", "--lr", "1e-2", "--ema", "0.5",
                "--monitor-every", "100", "--checkpoint-every", "100");
        assertEquals(0, train.exitCode(), train.toString());
        Path adapter = out.resolve("pytorch_lora_weights.safetensors");
        // the teacher with the student's adapter, sampled as the student is: LCM's ancestral steps, no guidance
        String[] common = {"generate", "--prompt", "a photo of a dress", "--steps", "1", "--guidance", "0", "--seed", "3", "--scheduler", "LCMScheduler",
                "--dtype", "float32"};
        assertSameImageAsTheFineTunedModel(dir, out.resolve("model"), adapter, common);
    }

    @Test
    void aLoraRunNeedsItsBaseAndNoOtherVae(@TempDir Path dir) {
        CliRun noBase = CliRun.of("train-t2i", "--lora-rank", "4", "--out", dir.toString());
        assertNotEquals(0, noBase.exitCode());
        assertTrue(noBase.err().contains("--lora-rank and --base go together"), noBase.toString());
        CliRun vae = CliRun.of("train-t2i", "--base", TEACHER.toString(), "--lora-rank", "4", "--vae", TEACHER.toString(), "--out", dir.toString());
        assertNotEquals(0, vae.exitCode());
        assertTrue(vae.err().contains("--vae is not for --lora-rank"), vae.toString());
    }

    private static void assertSameImageAsTheFineTunedModel(Path dir, Path fineTuned, Path adapter, String[] common) {
        assertTrue(Files.isRegularFile(adapter), adapter + " written");
        float[] tuned = CliRun.pixels(dir.resolve("tuned.png"), CliRun.concat(common, "--model", fineTuned.toString(), "--out", dir.resolve("tuned.png").toString()));
        float[] adapted = CliRun.pixels(dir.resolve("adapted.png"), CliRun.concat(common, "--model", TEACHER.toString(), "--lora", adapter.toString(),
                "--out", dir.resolve("adapted.png").toString()));
        float[] teacher = CliRun.pixels(dir.resolve("teacher.png"), CliRun.concat(common, "--model", TEACHER.toString(), "--out", dir.resolve("teacher.png").toString()));
        assertArrayEquals(tuned, adapted, "the teacher with the written adapter draws the fine-tuned model's image");
        double diff = 0;
        for (int i = 0; i < tuned.length; i++) diff += Math.abs(tuned[i] - teacher[i]);
        assertTrue(diff / tuned.length > 1e-3, "the fine-tuning changed the image, so the equality means something: mean |diff| " + diff / tuned.length);
    }
}
