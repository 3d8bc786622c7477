package org.panamasd;

import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;

/** Memory layouts of a 4-d tensor: NCHW (contiguous) or NHWC (channels_last, often faster for oneDNN convs). */
public enum MemoryFormat {
    CONTIGUOUS, CHANNELS_LAST;

    int code() {
        Native.ensureLoaded();
        return this == CONTIGUOUS ? panamasd_h.psd_memory_format_contiguous() : panamasd_h.psd_memory_format_channels_last();
    }
}
