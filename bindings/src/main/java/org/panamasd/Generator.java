package org.panamasd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;
import org.panamasd.internal.panamasd_h;

/**
 * A seeded random-number generator (libtorch's Philox/MT generator for its device). Every random
 * function takes one explicitly, so a seed reproduces the same tensors on every run.
 */
public final class Generator implements AutoCloseable {
    private volatile MemorySegment handle;
    private final Device device;
    private final java.lang.ref.Cleaner.Cleanable cleanable;  // frees the generator if it is dropped unclosed

    public Generator(long seed) {
        this(Device.CPU, seed);
    }

    public Generator(Device device, long seed) {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().pointer();
        Native.check(panamasd_h.psd_generator_new(device.typeCode(), device.index(), seed, ret), "psd_generator_new");
        MemorySegment h = ret.get(ValueLayout.ADDRESS, 0);
        this.handle = h;
        this.device = device;
        this.cleanable = Reclaim.register(this, "Generator", () -> panamasd_h.psd_generator_free(h));
    }

    public Device device() {
        return device;
    }

    public void setSeed(long seed) {
        Native.check(panamasd_h.psd_generator_set_seed(handle(), seed), "psd_generator_set_seed");
    }

    MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("generator is closed");
        return handle;
    }

    static MemorySegment handleOrNull(Generator generator) {
        return generator == null ? MemorySegment.NULL : generator.handle();
    }

    @Override
    public synchronized void close() {
        if (handle != null) cleanable.clean();
        handle = null;
    }
}
