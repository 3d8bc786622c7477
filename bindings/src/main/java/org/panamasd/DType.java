package org.panamasd;

import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;

/** Element types. Their native codes come from the shim's getters, never from numbers written here. */
public enum DType {
    FLOAT32, FLOAT64, FLOAT16, BFLOAT16, INT64, INT32, INT16, INT8, UINT8, BOOL;

    private static final DType[] BY_CODE;
    private final int code;
    private final long elementSize;

    static {
        int max = 0;
        for (DType d : values()) max = Math.max(max, d.code);
        BY_CODE = new DType[max + 1];
        for (DType d : values()) BY_CODE[d.code] = d;
    }

    DType() {
        Native.ensureLoaded();
        this.code = switch (name()) {
            case "FLOAT32" -> panamasd_h.psd_dtype_float32();
            case "FLOAT64" -> panamasd_h.psd_dtype_float64();
            case "FLOAT16" -> panamasd_h.psd_dtype_float16();
            case "BFLOAT16" -> panamasd_h.psd_dtype_bfloat16();
            case "INT64" -> panamasd_h.psd_dtype_int64();
            case "INT32" -> panamasd_h.psd_dtype_int32();
            case "INT16" -> panamasd_h.psd_dtype_int16();
            case "INT8" -> panamasd_h.psd_dtype_int8();
            case "UINT8" -> panamasd_h.psd_dtype_uint8();
            case "BOOL" -> panamasd_h.psd_dtype_bool();
            default -> throw new AssertionError(name());
        };
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var size = arena.allocate(java.lang.foreign.ValueLayout.JAVA_LONG);
            Native.check(panamasd_h.psd_dtype_element_size(code, size), "psd_dtype_element_size");
            this.elementSize = size.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
        }
    }

    public int code() {
        return code;
    }

    public long elementSize() {
        return elementSize;
    }

    public boolean isFloatingPoint() {
        return this == FLOAT32 || this == FLOAT64 || this == FLOAT16 || this == BFLOAT16;
    }

    public static DType fromCode(int code) {
        DType d = code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
        if (d == null) throw new IllegalArgumentException("dtype code " + code + " has no DType here");
        return d;
    }
}
