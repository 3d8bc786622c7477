package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.MemoryFormat;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.support.NativeTest;

/**
 * The autoencoder keeps its activations channels-last from conv_in to conv_out (docs/memory-model.md): one op
 * that hands back an NCHW tensor (a transposed reshape did, once) makes every later oneDNN convolution reorder
 * a full-size copy in and out, which is a 512x512 decode's peak. Its outputs stay plain NCHW for callers.
 */
class VaeLayoutTest extends NativeTest {
    private static final Path TEACHER = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher");

    @Test
    void everyBlockOfDecodeAndEncodeIsChannelsLast() {
        try (AutoencoderKL vae = AutoencoderKL.load(TEACHER.resolve("vae"));
                Scope step = Scope.open(); Generator g = new Generator(3); var off = Autograd.noGrad()) {
            Map<String, Tensor> blocks = new LinkedHashMap<>();
            vae.recordIntermediates(blocks);
            Tensor image = vae.decode(Tensor.randn(g, 1, 4, 16, 16));
            vae.encode(image);
            vae.recordIntermediates(null);
            assertTrue(image.isContiguous(), "decoded image is NCHW");
            assertTrue(blocks.get("encoder.conv_out").isContiguous(), "encoder's moments are NCHW");
            int checked = 0;
            for (var e : blocks.entrySet()) {
                String name = e.getKey();
                boolean inside = name.matches("(decoder|encoder)\\.(mid_block|up_blocks\\.\\d+|down_blocks\\.\\d+)");
                if (!inside) continue;
                assertTrue(e.getValue().isContiguous(MemoryFormat.CHANNELS_LAST), name + " is not channels-last");
                checked++;
            }
            assertTrue(checked >= 4, "recorded blocks checked: " + blocks.keySet());
        }
    }
}
