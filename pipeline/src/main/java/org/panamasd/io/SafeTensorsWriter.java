package org.panamasd.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * Writes tensors as a safetensors file. The file is written beside the target and moved into place, so a
 * crash or an error never leaves a half-written checkpoint under the final name.
 */
public final class SafeTensorsWriter {

    public static void write(Map<String, Tensor> tensors, Map<String, String> metadata, Path file) {
        ObjectNode header = new ObjectMapper().createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            Tensor t = e.getValue();
            long bytes = t.numel() * t.dtype().elementSize();
            ObjectNode entry = header.putObject(e.getKey());
            entry.put("dtype", code(t.dtype()));
            var shape = entry.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padding = (8 - json.length % 8) % 8;  // keeps the data 8-byte aligned
        try {
            AtomicFile.write(file, temporary -> {
                try (OutputStream out = Files.newOutputStream(temporary)) {
                    out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length + padding).array());
                    out.write(json);
                    out.write(" ".repeat(padding).getBytes(StandardCharsets.US_ASCII));
                    for (Tensor t : tensors.values()) {
                        try (Scope scope = Scope.open()) {
                            Tensor plain = t.detach().to(Device.CPU).contiguous();
                            out.write(plain.data().toArray(ValueLayout.JAVA_BYTE));
                        }
                    }
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static String code(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case INT16 -> "I16";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case BOOL -> "BOOL";
        };
    }

    private SafeTensorsWriter() {}
}
