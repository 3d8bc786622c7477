package org.panamasd.models.blocks;

import org.panamasd.ModulePath;
import org.panamasd.Overwritable;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.nn.BandedConvolution;
import org.panamasd.nn.Conv2d;
import org.panamasd.nn.GroupNorm;
import org.panamasd.nn.Linear;
import org.panamasd.nn.Weights;

/**
 * norm1, SiLU, conv1, + time_emb_proj(SiLU(temb)), norm2, SiLU, conv2, plus the (1x1-projected when the
 * channel count changes) input, divided by the output scale factor. Without a time embedding (the VAE's
 * blocks, timeEmbedDim 0) there is no time_emb_proj.
 */
public final class ResnetBlock2D {
    private final GroupNorm norm1, norm2;
    private final Conv2d conv1, conv2, convShortcut;
    private final Linear timeEmbProj;
    private final double outputScaleFactor;
    private final int inChannels, outChannels;

    private final ModulePath.Name modulePath;

    public ResnetBlock2D(Weights w, String prefix, int in, int out, int timeEmbedDim, int groups, double eps, double outputScaleFactor) {
        this.modulePath = ModulePath.of(prefix);
        this.norm1 = new GroupNorm(w, prefix + ".norm1", groups, in, eps);
        this.conv1 = new Conv2d(w, prefix + ".conv1", in, out, 3, 1, 1);
        this.timeEmbProj = timeEmbedDim > 0 ? new Linear(w, prefix + ".time_emb_proj", timeEmbedDim, out, true) : null;
        this.norm2 = new GroupNorm(w, prefix + ".norm2", groups, out, eps);
        this.conv2 = new Conv2d(w, prefix + ".conv2", out, out, 3, 1, 1);
        this.convShortcut = in != out ? new Conv2d(w, prefix + ".conv_shortcut", in, out, 1, 1, 0) : null;
        this.outputScaleFactor = outputScaleFactor;
        this.inChannels = in;
        this.outChannels = out;
    }

    /** x: (B, in, H, W), temb: (B, timeEmbedDim) or null -> (B, out, H, W). */
    public Tensor forward(Tensor x, Tensor temb) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            return Scope.returning(() -> {
                Tensor h = BandedConvolution.normSiluConv(norm1, conv1, x);
                // h is this block's own conv output, which no backward reads: the additions can go in place
                if (timeEmbProj != null) h.addInPlace(Scope.returning(() -> timeEmbProj.forward(temb.silu()).unsqueeze(2).unsqueeze(3)), 1);
                // h is dead once conv2 has read it: large ones are overwritten by conv2's output band by band
                Tensor out = BandedConvolution.normSiluConvOver(norm2, conv2, h.giveUp());
                if (convShortcut == null) out.addInPlace(x, 1);
                else BandedConvolution.addConv1x1(out, convShortcut, x);
                return outputScaleFactor == 1.0 ? out : out.div(outputScaleFactor);
            });
        }
    }

    /**
     * forward(x, null) through blocks in turn, for an x its caller gave up (a temporary that nothing reads
     * afterwards, not recorded anywhere): large activations are then computed in memory already held, not in
     * fresh tensors. A
     * block whose conv1 halves the channels writes conv1's output and the shortcut's over the two halves of x
     * ({@link BandedConvolution#normSiluConvAndShortcutOver}), conv2 over the first half, and leaves the second
     * as the spare; a block that keeps the channel count writes conv1's output into the spare (the input before
     * last, dead since) and leaves its own input as the next spare. The last up block of SD's VAE decoder (256 to
     * 128 channels at 512x512) so runs in the memory of its input alone, where it held 1.5 times that besides.
     *
     * <p>The result can be a channel slice of a larger tensor (the memory it was written in): contiguous(...)
     * compacts it for a caller that holds it long besides other large tensors. Should a band fail, x's memory is
     * left partly overwritten (the caller had given it up).
     */
    public static Tensor forwardOver(ResnetBlock2D[] blocks, Overwritable input) {
        Tensor x = input.take();  // ours now, as every handle below: each is freed once dead
        return Scope.returning(() -> {
            Tensor current = x, spare = null;
            for (ResnetBlock2D block : blocks) {
                Tensor[] next = block.stepOver(current, spare);
                if (current != next[0] && current != next[1]) current.close();
                current = next[0];
                spare = next[1];
            }
            if (spare != null && spare != current) spare.close();  // a handle on memory the result may share: the memory stays while the result needs it
            return current;
        });
    }

    /**
     * One block of forwardOver: {output, spare}, where spare, of the output's shape, holds nothing that is read
     * again (or is null). A spare it cannot use is freed before the block allocates its own memory.
     */
    private Tensor[] stepOver(Tensor x, Tensor spare) {
        try (ModulePath.Entered entered = ModulePath.enter(modulePath)) {
            if (timeEmbProj != null) throw new IllegalArgumentException("forwardOver takes resnets without a time embedding (a VAE's); this one has time_emb_proj");
            boolean unscaled = outputScaleFactor == 1.0;
            boolean banded = BandedConvolution.goesByBands(conv1, x);
            if (unscaled && convShortcut == null && spare != null && banded)
                return new Tensor[] {secondHalf(BandedConvolution.normSiluConvInto(norm1, conv1, x, spare.giveUp()), x), x};
            if (spare != null) spare.close();
            if (unscaled && convShortcut != null && inChannels == 2 * outChannels && banded) {
                Tensor[] halves = BandedConvolution.normSiluConvAndShortcutOver(norm1, conv1, convShortcut, x.giveUp());
                return new Tensor[] {secondHalf(halves[0], halves[1]), halves[1]};
            }
            return new Tensor[] {forward(x, null), convShortcut == null && unscaled ? x : null};
        }
    }

    /** conv2(SiLU(norm2(h))) + residual, written over h (h's values are not read again). */
    private Tensor secondHalf(Tensor h, Tensor residual) {
        Tensor result = BandedConvolution.normSiluConvOver(norm2, conv2, h.giveUp());
        result.addInPlace(residual, 1);
        return result;
    }
}
