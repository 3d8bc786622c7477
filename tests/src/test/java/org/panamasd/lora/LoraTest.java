package org.panamasd.lora;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.support.NativeTest;

/**
 * LoRA files of both layouts fused into weights held in a map (the fusion needs no model): the fused weight is
 * W + scale (alpha / rank) up down, written out with doubles here; unfusing restores W bit for bit; bad files are
 * refused naming the file and the key.
 */
class LoraTest extends NativeTest {
    private static final String MODULE = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";

    @Test
    void kohyaAndDiffusersFilesFuseToTheSameWeightAndUnfuseExactly(@TempDir Path dir) {
        try (Scope s = Scope.open(); Generator g = new Generator(1)) {
            Tensor w = Tensor.randn(g, 6, 5), down = Tensor.randn(g, 3, 5), up = Tensor.randn(g, 6, 3);
            float[] original = w.toFloatArray();
            double alpha = 1.5, scale = 0.5;
            Path kohya = dir.resolve("k.safetensors"), diffusers = dir.resolve("d.safetensors");
            String base = "lora_unet_" + MODULE.replace('.', '_');
            SafeTensorsWriter.write(Map.of(base + ".lora_down.weight", down, base + ".lora_up.weight", up, base + ".alpha", Tensor.of(new float[] {1.5f})),
                    Map.of(), kohya);
            SafeTensorsWriter.write(Map.of("unet." + MODULE + ".lora.down.weight", down, "unet." + MODULE + ".lora.up.weight", up.mul(alpha / 3)),
                    Map.of("format", "pt"), diffusers);
            double[] expected = expected(original, up.toFloatArray(), down.toFloatArray(), 6, 3, 5, scale * alpha / 3);
            Map<String, Map<String, Tensor>> components = Map.of("unet", Map.of(MODULE + ".weight", w, "other.weight", Tensor.zeros(2, 2)));
            for (Path file : List.of(kohya, diffusers)) {
                try (LoraAdapter adapter = LoraAdapter.load(file)) {
                    assertEquals(file == kohya ? "kohya" : "diffusers", adapter.format());
                    assertEquals(MODULE, LoraFusion.module(components, adapter, adapter.layers().getFirst()), "the kohya name resolves to the module");
                    try (LoraFusion.FusedLora fused = LoraFusion.fuse(components, List.of(new LoraFusion.Scaled(adapter, scale)))) {
                        assertEquals(1, fused.adaptedWeights());
                        assertClose(expected, toDoubles(w.toFloatArray()), 1e-5, 1e-5);
                    }
                    assertArrayEquals(original, w.toFloatArray(), file.getFileName() + ": unfused exactly");
                }
            }
        }
    }

    @Test
    void twoAdaptersOnOneWeightAdd(@TempDir Path dir) {
        try (Scope s = Scope.open(); Generator g = new Generator(2)) {
            Tensor w = Tensor.randn(g, 4, 4), down = Tensor.randn(g, 2, 4), up = Tensor.randn(g, 4, 2);
            float[] original = w.toFloatArray();
            Path file = dir.resolve("a.safetensors");
            SafeTensorsWriter.write(Map.of("unet.m.lora_A.weight", down, "unet.m.lora_B.weight", up), Map.of(), file);  // PEFT names, no alpha
            double[] expected = expected(original, up.toFloatArray(), down.toFloatArray(), 4, 2, 4, 0.25 + 0.5);
            try (LoraAdapter a = LoraAdapter.load(file); LoraAdapter b = LoraAdapter.load(file);
                 LoraFusion.FusedLora fused = LoraFusion.fuse(Map.of("unet", Map.of("m.weight", w)), List.of(new LoraFusion.Scaled(a, 0.25), new LoraFusion.Scaled(b, 0.5)))) {
                assertClose(expected, toDoubles(w.toFloatArray()), 1e-5, 1e-5);
            }
            assertArrayEquals(original, w.toFloatArray());
        }
    }

    @Test
    void badFilesAreRefusedNamingTheFileAndTheKey(@TempDir Path dir) {
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            Map<String, Map<String, Tensor>> components = Map.of("unet", Map.of(MODULE + ".weight", Tensor.randn(g, 6, 5)));
            String base = "lora_unet_" + MODULE.replace('.', '_');
            Map<String, Tensor> rankMismatch = new LinkedHashMap<>();
            rankMismatch.put(base + ".lora_down.weight", Tensor.randn(g, 3, 5));
            rankMismatch.put(base + ".lora_up.weight", Tensor.randn(g, 6, 2));
            assertRefused(dir, "rank.safetensors", rankMismatch, components, base, "rank");
            Map<String, Tensor> wrongModel = Map.of(base + ".lora_down.weight", Tensor.randn(g, 3, 7), base + ".lora_up.weight", Tensor.randn(g, 6, 3));
            assertRefused(dir, "shape.safetensors", wrongModel, components, base, "does not fit the weight");
            Map<String, Tensor> noSuchModule = Map.of("lora_unet_mid_block_attn9_to_q.lora_down.weight", Tensor.randn(g, 3, 5),
                    "lora_unet_mid_block_attn9_to_q.lora_up.weight", Tensor.randn(g, 6, 3));
            assertRefused(dir, "module.safetensors", noSuchModule, components, "lora_unet_mid_block_attn9_to_q", "names no module");
            Map<String, Tensor> textEncoder = Map.of("lora_te_text_model_x.lora_down.weight", Tensor.randn(g, 3, 5),
                    "lora_te_text_model_x.lora_up.weight", Tensor.randn(g, 6, 3));
            assertRefused(dir, "te.safetensors", textEncoder, components, "lora_te_text_model_x", "which this model does not have");
            assertRefused(dir, "unknown.safetensors", Map.of("model.diffusion_model.x.weight", Tensor.randn(g, 2)), components, "model.diffusion_model.x.weight",
                    "LoRA key");
        }
        IllegalArgumentException pickle = assertThrows(IllegalArgumentException.class, () -> LoraAdapter.load(dir.resolve("style.ckpt")));
        assertTrue(pickle.getMessage().contains("style.ckpt") && pickle.getMessage().contains("safetensors"), pickle.getMessage());
    }

    @Test
    void anInt8WeightIsRefusedNamingTheWeightAndTheFormat(@TempDir Path dir) {
        try (Scope s = Scope.open(); Generator g = new Generator(4)) {
            Map<String, Map<String, Tensor>> components = Map.of("unet", Map.of(MODULE + ".weight", Tensor.zeros(DType.INT8, 6, 5)));
            String base = "lora_unet_" + MODULE.replace('.', '_');
            assertRefused(dir, "int8.safetensors", Map.of(base + ".lora_down.weight", Tensor.randn(g, 3, 5), base + ".lora_up.weight", Tensor.randn(g, 6, 3)),
                    components, MODULE + ".weight", "--weights int8");
        }
    }

    @Test
    void aSpecIsAFileWithAnOptionalScale() {
        assertEquals(new LoraSpec(Path.of("a/b.safetensors"), 1.0), LoraSpec.parse("a/b.safetensors"));
        assertEquals(new LoraSpec(Path.of("a/b.safetensors"), 0.6), LoraSpec.parse("a/b.safetensors:0.6"));
        assertEquals(new LoraSpec(Path.of("c:d.safetensors"), 1.0), LoraSpec.parse("c:d.safetensors"));
        assertEquals(new LoraSpec(Path.of("x.safetensors"), -1.0), LoraSpec.parse("x.safetensors:-1"));
    }

    private static void assertRefused(Path dir, String name, Map<String, Tensor> tensors, Map<String, Map<String, Tensor>> components, String key,
                                      String why) {
        Path file = dir.resolve(name);
        SafeTensorsWriter.write(tensors, Map.of(), file);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            try (LoraAdapter adapter = LoraAdapter.load(file); var fused = LoraFusion.fuse(components, List.of(new LoraFusion.Scaled(adapter, 1)))) {
                fail("fused " + name);
            }
        });
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(key) && e.getMessage().contains(why), e.getMessage());
    }

    /** W + factor up down, up (out, rank) and down (rank, in) row-major. */
    private static double[] expected(float[] w, float[] up, float[] down, int out, int rank, int in, double factor) {
        double[] result = new double[out * in];
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int r = 0; r < rank; r++) sum += (double) up[o * rank + r] * down[r * in + i];
                result[o * in + i] = w[o * in + i] + factor * sum;
            }
        return result;
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
