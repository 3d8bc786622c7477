package org.panamasd;

/**
 * A failed native call. The message is libtorch's own (for example the two shapes of a failed
 * matmul) or the shim's, and {@link #status()} is the psd_status code.
 */
public final class TorchException extends RuntimeException {
    private final int status;
    private final String nativeMessage;

    public TorchException(int status, String nativeMessage, String call) {
        super(call + " failed (" + statusName(status) + "): " + nativeMessage);
        this.status = status;
        this.nativeMessage = nativeMessage;
    }

    public int status() {
        return status;
    }

    /** The message as the native side wrote it. */
    public String nativeMessage() {
        return nativeMessage;
    }

    static String statusName(int status) {
        return switch (status) {
            case 1 -> "libtorch error";
            case 2 -> "bad argument";
            case 3 -> "C++ exception";
            case 5 -> "not available in this libtorch";
            default -> "status " + status;
        };
    }
}
