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
    private MemorySegment handle;
    private final Device device;

    public Generator(long seed) {
        this(Device.CPU, seed);
    }

    public Generator(Device device, long seed) {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().pointer();
        Native.check(panamasd_h.psd_generator_new(device.typeCode(), device.index(), seed, ret), "psd_generator_new");
        this.handle = ret.get(ValueLayout.ADDRESS, 0);
        this.device = device;
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
    public void close() {
        if (handle != null) panamasd_h.psd_generator_free(handle);
        handle = null;
    }
}
