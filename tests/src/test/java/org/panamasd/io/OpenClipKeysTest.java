package org.panamasd.io;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.singlefile.LdmKeys;
import org.panamasd.nn.StateDict;
import org.panamasd.support.NativeTest;

/**
 * OpenCLIP's packed and transposed tensors read as transformers' parameters: q, k, v are the three row blocks of
 * {@code in_proj_weight}; the Linear weight of {@code text_projection} is the file's (width, projection) tensor
 * transposed (values written out here); a packed tensor of the wrong size is refused naming the chunk; the keys a
 * model leaves are told apart from stray ones.
 */
class OpenClipKeysTest extends NativeTest {
    private static final String P = "cond_stage_model.model.";

    @Test
    void chunksAndTransposesAreReadAsTheModelsParameters(@TempDir Path dir) {
        Path file = dir.resolve("open-clip.safetensors");
        float[] inProj = new float[6 * 2], projection = {1, 2, 3, 4, 5, 6};  // (width 3, projection 2)
        for (int i = 0; i < inProj.length; i++) inProj[i] = i;
        try (Scope s = Scope.open()) {
            SafeTensorsWriter.write(Map.of(P + "transformer.resblocks.0.attn.in_proj_weight", Tensor.of(inProj, 6, 2), P + "text_projection",
                    Tensor.of(projection, 3, 2)), Map.of(), file);
            try (StateDict state = StateDict.placed(SafeTensors.open(file), Device.CPU, DType.FLOAT32, LdmKeys.openClip(P, true))) {
                assertArrayEquals(new float[] {0, 1, 2, 3}, state.get("text_model.encoder.layers.0.self_attn.q_proj.weight", 2, 2).toFloatArray());
                assertArrayEquals(new float[] {4, 5, 6, 7}, state.get("text_model.encoder.layers.0.self_attn.k_proj.weight", 2, 2).toFloatArray());
                assertArrayEquals(new float[] {8, 9, 10, 11}, state.get("text_model.encoder.layers.0.self_attn.v_proj.weight", 2, 2).toFloatArray());
                assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, state.get("text_projection.weight", 2, 3).toFloatArray(), "(projection, width) = P^T");
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> state.get("text_model.encoder.layers.0.self_attn.q_proj.weight", 3, 2));
                assertTrue(e.getMessage().contains("in_proj_weight' (chunk 0 of 3 along dim 0)") && e.getMessage().contains("[6, 2]")
                        && e.getMessage().contains("[9, 2]"), e.getMessage());
            }
        }
        var unused = LdmKeys.openClipUnused(P, 23);
        assertTrue(unused.test(P + "transformer.resblocks.23.ln_1.weight"), "SD 2.x's last layer is not used");
        assertFalse(unused.test(P + "transformer.resblocks.22.ln_1.weight"));
        assertTrue(unused.test(P + "logit_scale"));
        assertFalse(unused.test(P + "transformer.resblocks.0.attn.bias_k"), "a stray key is not one the model leaves");
        assertFalse(unused.test("model.diffusion_model.logit_scale"));
    }
}
