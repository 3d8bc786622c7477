package org.panamasd.nn;

import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.panamasd.Autograd;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Functional;
import org.panamasd.MemoryFormat;
import org.panamasd.Overwritable;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.Torch;

/**
 * A size-keeping 3x3 convolution of a large activation computed in bands of output rows, where what it
 * convolves is an elementwise function of its input (GroupNorm + SiLU) or the input enlarged 2x (nearest
 * upsampling). Each band reads its rows plus a one-row halo through that function, so the function's
 * full-size result never exists: at a 512x512 VAE decode that is the largest tensor of the step. The output
 * is the same convolution, computed on the same values, only in pieces.
 *
 * <p>Only on the CPU, without grad mode (a band's temporaries, or the input a pass writes over, could be what
 * backward reads) and only above {@link #minBytes}, below which the whole tensor costs less than the bands' extra
 * calls.
 */
public final class BandedConvolution {
    /** The size of the convolved tensor from which it goes by bands (not final only for tests, as bandBytes). */
    static long minBytes = 64L << 20;
    /**
     * About this many bytes of the convolved tensor per band: a band computes up to two halo rows it drops, so
     * at a 512x512 VAE decode's 256 channels (512 KiB a row) 16 MiB bands spend 6 % more convolution on those
     * layers; measured here, the decode was no slower than with 32 MiB bands (and 34 MB lower at its peak) while
     * 8 MiB bands were slower. Not final only so that tests can see bands at small sizes.
     */
    static long bandBytes = 16L << 20;

    private BandedConvolution() {}

    /** conv(SiLU(norm(x))), banded when worth it. */
    public static Tensor normSiluConv(GroupNorm norm, Conv2d conv, Tensor x) {
        return normSiluConv(norm, conv, x, false);
    }

    /**
     * conv(SiLU(norm(x))) where the caller gave x up: when banded and the channel count stays, the result is
     * written over x (x's memory comes back), one activation fewer at the peak; otherwise x is freed once the
     * result is computed.
     */
    public static Tensor normSiluConvOver(GroupNorm norm, Conv2d conv, Overwritable input) {
        Tensor x = input.take();
        Tensor out = normSiluConv(norm, conv, x, conv.weight.size(0) == conv.weight.size(1));
        if (out != x) x.close();
        return out;
    }

    /** Whether conv(SiLU(norm(x))) goes by bands: on the CPU, without grad mode, x large enough. */
    public static boolean goesByBands(Conv2d conv, Tensor x) {
        return worthBands(conv, x, bytes(x));
    }

    private static Tensor normSiluConv(GroupNorm norm, Conv2d conv, Tensor x, boolean over) {
        if (!worthBands(conv, x, bytes(x)))
            return Scope.returning(() -> conv.forward(norm.forwardSilu(x)));
        return Scope.returning(() -> {
            Tensor out = over ? x : freshOutput(x, conv.weight.size(0), x.size(2), x.size(3));
            normSiluConvBands(norm, conv, x, out, over);
            return out;
        });
    }

    /**
     * conv(SiLU(norm(x))) written into another activation's memory, given up by the caller (of the result's shape;
     * its values are not read), which comes back as the result. Only where x goes by bands ({@link #goesByBands}):
     * the whole path would hold its own result besides that memory (the caller then uses {@link #normSiluConv}).
     */
    public static Tensor normSiluConvInto(GroupNorm norm, Conv2d conv, Tensor x, Overwritable output) {
        if (!goesByBands(conv, x)) throw new IllegalArgumentException("input " + Arrays.toString(x.shape()) + " does not go by bands (goesByBands)");
        Tensor out = output.take();
        if (!Arrays.equals(out.shape(), new long[] {x.size(0), conv.weight.size(0), x.size(2), x.size(3)}))
            throw new IllegalArgumentException("output " + Arrays.toString(out.shape()) + " is not the convolution's shape for input " + Arrays.toString(x.shape()));
        try (Scope scope = Scope.open()) {
            normSiluConvBands(norm, conv, x, out, false);
        }
        return out;
    }

    /**
     * A resnet's first half where conv1 halves the channel count and a 1x1 shortcut projects x to the same count:
     * conv(SiLU(norm(x))) and shortcut(x), both written over x, band by band, into x's first and second half of
     * channels. Either layout works: a band's two results take exactly the bytes of x's rows they came from.
     * Returns the two results as views of x's memory (given up by the caller). Only where x goes by bands
     * ({@link #goesByBands}).
     */
    public static Tensor[] normSiluConvAndShortcutOver(GroupNorm norm, Conv2d conv, Conv2d shortcut, Overwritable input) {
        Tensor x = input.take();
        long half = conv.weight.size(0);
        if (!goesByBands(conv, x)) throw new IllegalArgumentException("input " + Arrays.toString(x.shape()) + " does not go by bands (goesByBands)");
        if (2 * half != x.size(1) || shortcut.weight.size(0) != half || shortcut.weight.size(2) != 1 || shortcut.weight.size(3) != 1)
            throw new IllegalArgumentException("conv " + Arrays.toString(conv.weight.shape()) + " and shortcut " + Arrays.toString(shortcut.weight.shape())
                    + " do not halve input " + Arrays.toString(x.shape()));
        Tensor[] halves = {x.narrow(1, 0, half), x.narrow(1, half, half)};
        try (Scope scope = Scope.open()) {
            Tensor[] affine = affine(norm, x);
            inBands(halves, x, 1, true, UnaryOperator.identity(),
                    rows -> new Tensor[] {Scope.returning(() -> conv.forward(Functional.scaleShiftSilu(rows, affine[0], affine[1]))), shortcut.forward(rows)});
        }
        x.close();  // the halves hold its memory
        return halves;
    }

    /** The bands of conv(SiLU(norm(x))) into out, which is x itself when over. */
    private static void normSiluConvBands(GroupNorm norm, Conv2d conv, Tensor x, Tensor out, boolean over) {
        Tensor[] affine = affine(norm, x);
        inBands(new Tensor[] {out}, x, 1, over, rows -> Functional.scaleShiftSilu(rows, affine[0], affine[1]), rows -> new Tensor[] {conv.forward(rows)});
    }

    /** The norm's per-channel scale and shift, from the whole of x: computed before any band is written over it. */
    private static Tensor[] affine(GroupNorm norm, Tensor x) {
        return norm.scaleShift(x, bandBytes / 4);
    }

    /** conv(nearest 2x upsampling of x), banded when worth it. */
    public static Tensor upsampleConv(Conv2d conv, Tensor x) {
        if (!worthBands(conv, x, 4 * bytes(x)))
            return Scope.returning(() -> conv.forward(Functional.interpolate(x, 2.0, 2.0, Functional.Interpolation.NEAREST, null)));
        return Scope.returning(() -> {
            Tensor out = freshOutput(x, conv.weight.size(0), 2 * x.size(2), 2 * x.size(3));
            inBands(new Tensor[] {out}, x, 2, false, rows -> Functional.interpolate(rows, 2.0, 2.0, Functional.Interpolation.NEAREST, null),
                    rows -> new Tensor[] {conv.forward(rows)});
            return out;
        });
    }

    /** target += conv(x) for a 1x1 convolution (a shortcut's projection), by bands of rows when x is large. */
    public static void addConv1x1(Tensor target, Conv2d conv, Tensor x) {
        long rows = x.size(2), band = bandRows(x, 1);
        if (bytes(x) < minBytes || Autograd.isGradEnabled()) {
            target.addInPlace(Scope.returning(() -> conv.forward(x)), 1);
            return;
        }
        for (long r0 = 0; r0 < rows; r0 += band) {
            long count = Math.min(band, rows - r0);
            try (Scope piece = Scope.open()) {
                target.narrow(2, r0, count).addInPlace(conv.forward(x.narrow(2, r0, count)), 1);
            }
        }
    }

    /** Only without grad mode (a band's temporaries, or the input a pass writes over, could be what backward reads) and on the CPU. */
    private static boolean worthBands(Conv2d conv, Tensor x, long convolvedBytes) {
        return convolvedBytes >= minBytes && conv.keepsSize3x3() && !Autograd.isGradEnabled() && x.device().equals(Device.CPU);
    }

    /**
     * Output rows [r0, r1) of conv(f(x)) need rows r0-1 .. r1 of f(x) (zero padding at the borders, as the
     * whole convolution has). f maps x's rows [a, b) to its own rows [a*scale, b*scale), so a band reads x's
     * rows covering the halo, convolves with padding 1 (exact at a border; the extra rows it makes next to a
     * halo are dropped) and copies its rows into outs (convs gives one result per output, all from the same
     * rows). When the outputs are x's own memory (over), a band is written only once the next one has been
     * computed, so that the next band's halo row is read before it is overwritten; into fresh outputs each band
     * goes at once (one band's output fewer held).
     */
    private static void inBands(Tensor[] outs, Tensor x, int scale, boolean over, UnaryOperator<Tensor> f, java.util.function.Function<Tensor, Tensor[]> convs) {
        long height = outs[0].size(2), band = bandRows(x, scale);
        MemoryFormat layout = channelsLast(x) ? MemoryFormat.CHANNELS_LAST : MemoryFormat.CONTIGUOUS;
        Tensor[] pending = null;
        long pendingStart = 0, pendingOffset = 0;
        for (long r0 = 0; r0 < height; r0 += band) {
            long r1 = Math.min(height, r0 + band);
            long lo = Math.max(0, r0 - 1), hi = Math.min(height, r1 + 1);  // f(x)'s rows, halo included
            long a = lo / scale, b = (hi + scale - 1) / scale;               // the rows of x they come from
            // contiguous in x's layout: a row slice of a batch of several is neither layout's, and the conv's
            // backend choice is keyed by layout
            Tensor[] rows;
            try (Scope piece = Scope.open()) {
                rows = convs.apply(Scope.returning(() -> f.apply(x.narrow(2, a, b - a)).narrow(2, lo - a * scale, hi - lo).contiguous(layout)));
                for (Tensor t : rows) t.moveToParent();
            }
            if (pending != null) write(outs, pending, pendingStart, pendingOffset, r0 - pendingStart);
            pending = rows;
            pendingStart = r0;
            pendingOffset = r0 - lo;
            if (!over) {
                write(outs, pending, pendingStart, pendingOffset, r1 - r0);
                pending = null;
            }
        }
        if (pending != null) write(outs, pending, pendingStart, pendingOffset, height - pendingStart);
        trimHeap(x);
    }

    /**
     * Whether the trims inside a pass keep the block pool's free blocks (null: {@code -Dpanamasd.allocator.keepPoolInStep}
     * true or false decides; unset too: kept in a bfloat16 or float16 pass, released in a float32 one). Released, they
     * are mapped and faulted in again by the next call: a 512-px VAE decode maps 97 blocks and takes about 400,000
     * minor faults a call (9 % of its time in the kernel). Kept, a warm decode maps none (about 1,800 faults, 15-20 %
     * faster in float32, 20-30 % in bfloat16), but its peak RSS holds them too: in float32 1.17 GiB against 0.99, over the
     * 1.0 GB goal of the decode's memory (docs/benchmarks.md, "Memory of a full-size step"), which is why a float32
     * pass releases them; in bfloat16 0.84 against 0.75 GiB, under that goal.
     */
    public static volatile Boolean keepPoolInStep;

    static Boolean keepPoolSetting(String value) {
        if (value == null || value.isBlank()) return null;
        return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("panamasd.allocator.keepPoolInStep must be true or false (or unset), got '" + value + "'");
        };
    }

    /**
     * Whether a pass over x keeps the pool's free blocks: as set here, else as the property says (read at each pass, so
     * a bad value fails the passes it governs by name), else in reduced precision only.
     */
    static boolean keepsPool(Tensor x) {
        Boolean keep = keepPoolInStep;
        if (keep == null) keep = keepPoolSetting(System.getProperty("panamasd.allocator.keepPoolInStep"));
        return keep != null ? keep : x.dtype() == DType.BFLOAT16 || x.dtype() == DType.FLOAT16;
    }

    /**
     * Bands below the block pool's 1 MiB come from malloc's heap: without a trim their pages stay resident after the
     * pass. At most once a second, since malloc_trim locks every malloc arena (other threads' allocations wait
     * meanwhile).
     */
    private static void trimHeap(Tensor x) {
        long now = System.nanoTime(), last = lastTrim.get();
        if (now - last >= 1_000_000_000L && lastTrim.compareAndSet(last, now)) trim(x);
    }

    /** malloc's heap, and the pool's free blocks unless a pass over x keeps them ({@link #keepPoolInStep}). */
    private static void trim(Tensor x) {
        if (keepsPool(x)) Torch.trimMalloc();
        else Torch.trimHeap();
    }

    private static final java.util.concurrent.atomic.AtomicLong lastTrim = new java.util.concurrent.atomic.AtomicLong(System.nanoTime() - 1_000_000_000L);

    private static void write(Tensor[] outs, Tensor[] rows, long start, long offset, long count) {
        try (Scope views = Scope.open()) {  // a view holds its storage: the band's goes with rows' close() only once they die
            for (int i = 0; i < outs.length; i++) outs[i].narrow(2, start, count).copyFrom(rows[i].narrow(2, offset, count));
        }
        for (Tensor t : rows) t.close();
    }

    /** Rows of f(x) per band: about bandBytes, a multiple of scale. */
    private static long bandRows(Tensor x, int scale) {
        long rowBytes = Math.max(1, bytes(x) / x.size(2) * scale);
        return Math.max(scale, bandBytes / rowBytes / scale * scale);
    }

    /**
     * x's size counted in float32 at least: a bfloat16 activation is normalised and activated in float32 (the whole
     * path's norm upcasts all of it at once), so it weighs that much where banding decides and sizes bands.
     */
    private static long bytes(Tensor x) {
        return x.numel() * Math.max(4, x.dtype().elementSize());
    }

    /**
     * Channels-last, or a channel slice of a channels-last tensor (a resnet's output written over one half of its
     * input, {@link #normSiluConvAndShortcutOver}): bands of it convolve channels-last.
     */
    static boolean channelsLast(Tensor x) {
        if (Conv2d.channelsLast(x)) return true;
        if (x.dim() != 4 || x.size(1) < 2) return false;
        long[] strides = x.strides();
        return strides[1] == 1 && strides[3] >= x.size(1) && strides[2] == strides[3] * x.size(3);
    }

    /**
     * A large output, allocated after a trim of malloc's heap: the output cannot reuse the small freed bands of
     * earlier passes that the heap still keeps resident, which would otherwise count besides it at what is often the
     * step's peak (the upsampler's output of a 512x512 VAE decode). A few per decode (a trim took 5-25 ms here), so
     * without the rate limit of the trims after passes. The pool's free blocks go too, unless the pass keeps them ({@link #keepPoolInStep}).
     */
    private static Tensor freshOutput(Tensor x, long channels, long height, long width) {
        trim(x);
        return like(x, channels, height, width);
    }

    /** An uninitialised (B, channels, height, width) tensor in x's layout: channels-last is (B, H, W, C) permuted. */
    private static Tensor like(Tensor x, long channels, long height, long width) {
        return channelsLast(x) ? Tensor.empty(x.dtype(), x.device(), x.size(0), height, width, channels).permute(0, 3, 1, 2)
                : Tensor.empty(x.dtype(), x.device(), x.size(0), channels, height, width);
    }
}
