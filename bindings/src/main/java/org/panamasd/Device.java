package org.panamasd;

import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;

/** A device: the CPU, or a CUDA device by index (when the shim is built against a CUDA libtorch). */
public record Device(Type type, int index) {
    public enum Type {
        CPU, CUDA;

        int code() {
            Native.ensureLoaded();
            return this == CPU ? panamasd_h.psd_device_cpu() : panamasd_h.psd_device_cuda();
        }
    }

    public static final Device CPU = new Device(Type.CPU, -1);

    public static Device cuda(int index) {
        return new Device(Type.CUDA, index);
    }

    public int typeCode() {
        return type.code();
    }

    static Device fromCodes(int typeCode, int index) {
        for (Type t : Type.values()) if (t.code() == typeCode) return t == Type.CPU ? CPU : new Device(t, index);
        throw new IllegalArgumentException("device type code " + typeCode + " is neither CPU nor CUDA");
    }

    @Override
    public String toString() {
        return type == Type.CPU ? "cpu" : "cuda:" + index;
    }
}
