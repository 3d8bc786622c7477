package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.HashMap;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Generator;
import org.panamasd.MemoryFormat;
import org.panamasd.Overwritable;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.blocks.ResnetBlock2D;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.support.AllocatorPeak;
import org.panamasd.support.NativeTest;

/**
 * Resnets that compute in the memory of their own activations (ResnetBlock2D.forwardOver: a channel-halving
 * block writes conv1's and the shortcut's outputs over its input's two halves, blocks that keep the channel count
 * write into the spare) give the plain path's values and hold nothing besides their input but bands (3-5 MB of
 * 1 MiB bands here, NCHW's oneDNN reorders included): the plain path holds a fresh conv1 output, half the input,
 * besides it.
 */
@org.junit.jupiter.api.extension.ExtendWith(SmallBands.class)
class ResnetForwardOverTest extends NativeTest {

    @Test
    void aHalvingResnetThenTwoKeepingOnesGiveThePlainValuesInTheMemoryOfTheirInput() {
        try (RandomWeights w = new RandomWeights(11); Scope s = Scope.open(); Generator g = new Generator(12); var off = Autograd.noGrad()) {
            ResnetBlock2D[] blocks = blocks(w);
            for (Tensor p : w.parameters().values()) if (p.dim() == 1) p.addInPlace(Tensor.randn(g, p.shape()).mul(0.2), 1);  // norms and biases not trivial
            Weights exact = (key, shape) -> w.parameters().get(key).to(DType.FLOAT64);
            ResnetBlock2D[] reference = blocks(exact);
            for (MemoryFormat layout : new MemoryFormat[] {MemoryFormat.CHANNELS_LAST, MemoryFormat.CONTIGUOUS}) {
                for (long batch : new long[] {1, 2}) {
                    // 301 rows: not a multiple of a band
                    Tensor x = Tensor.randn(g, batch, 64, 301 / batch, 260).mul(2).add(0.5).contiguous(layout);
                    long bytes = x.numel() * 4;
                    assertTrue(bytes >= BandedConvolution.minBytes, "the case must be banded");
                    Tensor expected = wholeTensorPath(reference, x.to(DType.FLOAT64)).to(DType.FLOAT32);
                    assertClose(expected, ResnetBlock2D.forwardOver(blocks, x.copy().giveUp()), layout + " batch " + batch);
                    // measured on a second pass: the first one of a shape times its convolution backends
                    Overwritable input = x.copy().giveUp();
                    long peak = AllocatorPeak.above(() -> ResnetBlock2D.forwardOver(blocks, input));
                    // the plain path's fresh conv1 output alone is half the input
                    assertTrue(peak < bytes / 2, layout + " batch " + batch + ": peak " + peak + " bytes above the input's " + bytes);
                }
            }
        }
    }

    /**
     * Below the banding size nothing is written over, and a spare that cannot be used is freed before the next
     * block allocates: the sequence holds no more than the plain chain of forwards (which frees each input as the
     * next block replaces it).
     */
    @Test
    void unbandedTheSequenceHoldsNoMoreThanThePlainChain() {
        try (RandomWeights w = new RandomWeights(14); Scope s = Scope.open(); Generator g = new Generator(15); var off = Autograd.noGrad()) {
            ResnetBlock2D[] blocks = new ResnetBlock2D[4];
            for (int i = 0; i < blocks.length; i++) blocks[i] = new ResnetBlock2D(w, "r" + i, 32, 32, 0, 8, 1e-6, 1.0);
            Tensor x = Tensor.randn(g, 1, 32, 256, 256).contiguous(MemoryFormat.CHANNELS_LAST);
            long bytes = x.numel() * 4;
            BandedConvolution.minBytes = Long.MAX_VALUE;
            ResnetBlock2D.forwardOver(blocks, x.copy().giveUp());  // conv backends timed for these shapes
            long plain = AllocatorPeak.above(() -> wholeTensorPath(blocks, x.copy()));
            Overwritable input = x.copy().giveUp();
            long over = AllocatorPeak.above(() -> ResnetBlock2D.forwardOver(blocks, input));
            assertTrue(over < plain + bytes / 2, "forwardOver's peak " + over + " bytes against the plain chain's " + plain + " (an activation is " + bytes + ")");
        }
    }

    /**
     * The decoder runs its up blocks through forwardOver when nothing is recorded, and the plain way while recording:
     * the shipped VAE's decoder (32 then 16 channels, so its last block halves) gives the same image both ways (values;
     * memory below).
     */
    @Test
    void aDecodeWrittenOverItsActivationsGivesTheRecordedPathsImage() {
        try (AutoencoderKL vae = AutoencoderKL.load(TEACHER.resolve("vae")); Scope s = Scope.open(); Generator g = new Generator(13); var off = Autograd.noGrad()) {
            Tensor latents = Tensor.randn(g, 1, 4, 96, 96);
            assertTrue(32L * 192 * 192 * 4 >= BandedConvolution.minBytes, "the last block's input must be banded");
            Tensor over = vae.decode(latents);
            vae.recordIntermediates(new HashMap<>());
            Tensor plain = vae.decode(latents);
            vae.recordIntermediates(null);
            assertClose(plain, over, "image");
        }
    }

    /**
     * The decoder takes forwardOver: a VAE shaped like SD's (four levels, the last up block halving the channels) but
     * small, so that its last up block, not the mid block's attention, is what a decode holds most. The plain path
     * would hold that block's input and a fresh conv1 output of half its size at once; the decode stays below.
     */
    @Test
    void aDecodeHoldsLessThanThePlainLastUpBlock() {
        DiffusersConfig config = DiffusersConfig.parse("""
                {"_class_name": "AutoencoderKL", "block_out_channels": [32, 64, 128, 128], "layers_per_block": 1, "norm_num_groups": 8,
                 "latent_channels": 4, "in_channels": 3, "out_channels": 3, "sample_size": 192,
                 "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
                 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}""");
        try (AutoencoderKL vae = AutoencoderKL.initialize(config, 16); Scope s = Scope.open(); Generator g = new Generator(17); var off = Autograd.noGrad()) {
            BandedConvolution.minBytes = 1L << 20;
            BandedConvolution.bandBytes = 128L << 10;
            Tensor latents = Tensor.randn(g, 1, 4, 24, 24);
            long lastBlockInput = 64L * 192 * 192 * 4;  // the last up block's input: 64 channels at the image's 192 x 192
            vae.decode(latents);  // conv backends timed for these shapes
            long peak = AllocatorPeak.above(() -> vae.decode(latents));
            assertTrue(peak < lastBlockInput * 3 / 2, "decode's peak " + peak + " bytes; the plain last up block holds " + lastBlockInput * 3 / 2);
        }
    }

    private static final Path TEACHER = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher");

    private static ResnetBlock2D[] blocks(Weights w) {
        return new ResnetBlock2D[] {new ResnetBlock2D(w, "r0", 64, 32, 0, 8, 1e-6, 1.0), new ResnetBlock2D(w, "r1", 32, 32, 0, 8, 1e-6, 1.0),
                new ResnetBlock2D(w, "r2", 32, 32, 0, 8, 1e-6, 1.0)};
    }

    /** Each block's forward, unbanded (the threshold raised for the call). */
    private static Tensor wholeTensorPath(ResnetBlock2D[] blocks, Tensor x) {
        long min = BandedConvolution.minBytes;
        BandedConvolution.minBytes = Long.MAX_VALUE;
        try {
            Chain chain = Chain.from(x);
            for (ResnetBlock2D block : blocks) chain.then(t -> block.forward(t, null));
            return chain.get();
        } finally {
            BandedConvolution.minBytes = min;
        }
    }

    private static void assertClose(Tensor expected, Tensor actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what);
        double scale = expected.abs().max().item(), diff = expected.sub(actual).abs().max().item();
        assertTrue(diff <= 1e-5 * scale, what + ": max difference " + diff + " for values up to " + scale);
    }
}
