package org.panamasd.training.lora;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.lora.LoraAdapter;
import org.panamasd.lora.LoraFusion;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.support.NativeTest;

/**
 * A LoRA trained through the model's weights: its gradients are the chain rule's, written out with doubles here;
 * the file it writes, fused into a fresh copy of the base by {@link LoraFusion}, gives the trained model's weights
 * bit for bit and so its outputs; only the attention projections train; closing puts the base back.
 */
class TrainableLoraTest extends NativeTest {
    private static final String MODULE = "mid_block.attentions.0.transformer_blocks.0.attn1.to_q";
    private static final String UNET = """
            {"in_channels": 4, "out_channels": 4, "block_out_channels": [16, 32], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "attention_head_dim": 2,
             "cross_attention_dim": 8, "norm_num_groups": 8}""";

    @Test
    void gradientsReachTheMatricesByTheChainRule() {
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            int out = 5, in = 4, rank = 2, batch = 3;
            Tensor w = Tensor.randn(g, out, in), bias = Tensor.randn(g, out), norm = Tensor.randn(g, out);
            Map<String, Tensor> weights = new LinkedHashMap<>();
            weights.put(MODULE + ".weight", w);
            weights.put(MODULE + ".bias", bias);
            weights.put("mid_block.attentions.0.norm.weight", norm);
            float[] base = w.toFloatArray();
            try (TrainableLora lora = TrainableLora.attach(Map.of("unet", weights), rank, 7)) {
                assertEquals(1, lora.adaptedWeights());
                assertFalse(bias.requiresGrad(), "the base's other parameters are frozen");
                assertFalse(norm.requiresGrad(), "the base's other parameters are frozen");
                Tensor down = lora.parameters().get("unet." + MODULE + ".lora.down.weight"), up = lora.parameters().get("unet." + MODULE + ".lora.up.weight");
                assertArrayEquals(new float[out * rank], up.toFloatArray(), "up starts at zero: training starts at the base");
                try (var frozen = Autograd.noGrad()) {
                    up.copyFrom(Tensor.randn(g, out, rank));  // as after some steps, so that both gradients are non-zero
                }
                lora.beforeForward();
                float[] d = down.toFloatArray(), u = up.toFloatArray(), fused = w.toFloatArray();
                for (int o = 0; o < out; o++)
                    for (int i = 0; i < in; i++) {
                        double delta = 0;
                        for (int r = 0; r < rank; r++) delta += (double) u[o * rank + r] * d[r * in + i];
                        assertEquals(base[o * in + i] + delta, fused[o * in + i], 1e-5, "W = W0 + up down");
                    }
                // loss = sum(c * (x W^T + b)): dL/dW = c^T x
                Tensor x = Tensor.randn(g, batch, in), c = Tensor.randn(g, batch, out);
                x.matmul(w.transpose(0, 1)).add(bias).mul(c).sum().backward();
                lora.afterBackward();
                assertNull(w.grad(), "the weight's gradient is spent on the matrices");
                float[] xs = x.toFloatArray(), cs = c.toFloatArray();
                double[][] grad = new double[out][in];
                for (int b = 0; b < batch; b++)
                    for (int o = 0; o < out; o++)
                        for (int i = 0; i < in; i++) grad[o][i] += (double) cs[b * out + o] * xs[b * in + i];
                float[] upGrad = up.grad().toFloatArray(), downGrad = down.grad().toFloatArray();
                for (int o = 0; o < out; o++)
                    for (int r = 0; r < rank; r++) {
                        double expected = 0;  // G down^T
                        for (int i = 0; i < in; i++) expected += grad[o][i] * d[r * in + i];
                        assertEquals(expected, upGrad[o * rank + r], 1e-4, "d/d up");
                    }
                for (int r = 0; r < rank; r++)
                    for (int i = 0; i < in; i++) {
                        double expected = 0;  // up^T G
                        for (int o = 0; o < out; o++) expected += u[o * rank + r] * grad[o][i];
                        assertEquals(expected, downGrad[r * in + i], 1e-4, "d/d down");
                    }
            }
            assertArrayEquals(base, w.toFloatArray(), "closing puts the base weight back");
        }
    }

    @Test
    void theWrittenAdapterFusedIntoTheBaseGivesTheTrainedModel(@TempDir Path dir) {
        DiffusersConfig config = DiffusersConfig.parse(UNET);
        Path file = dir.resolve("pytorch_lora_weights.safetensors");
        try (Scope s = Scope.open(); Generator g = new Generator(4);
             UNet2DConditionModel trained = UNet2DConditionModel.initialize(config, 1);
             UNet2DConditionModel base = UNet2DConditionModel.initialize(config, 1);
             TrainableLora lora = TrainableLora.attach(Map.of("unet", trained.parameters()), 4, 9)) {
            assertEquals(32, lora.adaptedWeights(), "q, k, v, out of attn1 and attn2 in each of 4 attentions (1 down, 1 mid, 2 up)");
            for (String key : trained.parameters().keySet())
                assertEquals(key.matches(".*\\.attn[12]\\.to_(q|k|v|out\\.0)\\.weight"), trained.parameters().get(key).requiresGrad(), key);
            try (var frozen = Autograd.noGrad()) {
                for (Tensor p : lora.parameters().values()) p.copyFrom(Tensor.randn(g, p.shape()).mul(0.3));
            }
            lora.beforeForward();
            lora.write(lora.parameters(), file);

            // every forward without a graph: a recorded one takes libtorch's ops where an unrecorded one takes the shim's
            // fused kernels, equal within float rounding but not bit for bit
            try (var unrecorded = Autograd.noGrad()) {
                Tensor sample = Tensor.randn(g, 1, 4, 8, 8), context = Tensor.randn(g, 1, 3, 8);
                Tensor plain = base.forward(sample, Tensor.of(new long[] {500}, 1), context, null, null);
                Tensor expected = trained.forward(sample, Tensor.of(new long[] {500}, 1), context, null, null);
                try (LoraAdapter adapter = LoraAdapter.load(file);
                     LoraFusion.FusedLora fused = LoraFusion.fuse(Map.of("unet", base.parameters()), List.of(new LoraFusion.Scaled(adapter, 1.0)))) {
                    assertEquals("diffusers", adapter.format());
                    assertEquals(32, fused.adaptedWeights());
                    for (var e : trained.parameters().entrySet())
                        assertArrayEquals(e.getValue().toFloatArray(), base.parameters().get(e.getKey()).toFloatArray(), e.getKey() + ": fused from the file = trained");
                    Tensor actual = base.forward(sample, Tensor.of(new long[] {500}, 1), context, null, null);
                    assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), "the adapter reproduces the trained model's output");
                }
                assertTrue(plain.sub(expected).abs().max().item() > 1e-3, "the adapter changes the output, so the equality means something");
            }
        }
    }

    @Test
    void badRequestsAreRefused() {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> weights = Map.of(MODULE + ".weight", Tensor.zeros(3, 4), "conv_in.weight", Tensor.zeros(3, 4, 3, 3));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TrainableLora.attach(Map.of("unet", weights), 0, 1))
                    .getMessage().contains("rank must be >= 1"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TrainableLora.attach(Map.of("unet", weights), 4, 1))
                    .getMessage().contains("rank 4 exceeds unet." + MODULE + " 3x4"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TrainableLora.attach(Map.of("unet", Map.of("conv_in.weight", Tensor.zeros(3, 4, 3, 3))), 2, 1))
                    .getMessage().contains("no projection to adapt"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TrainableLora.attach(Map.of("vae", weights), 2, 1))
                    .getMessage().contains("'vae'"));
        }
    }
}
