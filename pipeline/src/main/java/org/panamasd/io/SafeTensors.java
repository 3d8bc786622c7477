package org.panamasd.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * A safetensors file, memory-mapped: {@code [u64 little-endian N][N bytes JSON header][data]}. Tensors are
 * views of the mapping (no copy); the mapping lives until the last of them is freed. Every entry of the
 * header is checked against the file before any tensor is made, and a bad one fails naming the file,
 * the key and the offending offsets or shape.
 */
public final class SafeTensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;

    /** One header entry. Offsets are absolute positions in the file. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private final Path path;
    private final MemorySegment file;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, MemorySegment file, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.file = file;
        this.entries = entries;
        this.metadata = metadata;
    }

    public static SafeTensors open(Path path) {
        if (!java.nio.file.Files.isRegularFile(path)) throw bad(path, "does not exist or is not a file");
        // Copy-on-write, so an in-place op on a loaded tensor changes private pages and never faults on
        // read-only memory; unmapped once no tensor refers to it any more.
        MemorySegment file = MappedFile.map(path);
        if (file.byteSize() < 8) throw bad(path, "is " + file.byteSize() + " bytes, shorter than the 8-byte header length");
        long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 2 || headerLength > MAX_HEADER || 8 + headerLength > file.byteSize())
            throw bad(path, "declares a header of " + headerLength + " bytes but the file has " + file.byteSize());
        String headerText = new String(file.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = JSON.readTree(headerText);
        } catch (IOException e) {
            throw bad(path, "has a header that is not JSON: " + e.getMessage());
        }
        if (header == null || !header.isObject()) throw bad(path, "has a header that is not a JSON object");
        long dataStart = 8 + headerLength;
        long dataSize = file.byteSize() - dataStart;
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            String key = field.getKey();
            JsonNode value = field.getValue();
            if (key.equals("__metadata__")) {
                value.properties().forEach(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            entries.put(key, entry(path, key, value, dataStart, dataSize));
        }
        return new SafeTensors(path, file, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(metadata));
    }

    private static Entry entry(Path path, String key, JsonNode value, long dataStart, long dataSize) {
        JsonNode dtypeNode = value.get("dtype"), shapeNode = value.get("shape"), offsets = value.get("data_offsets");
        if (dtypeNode == null || shapeNode == null || offsets == null || !shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2)
            throw bad(path, "key '" + key + "' lacks dtype, shape or a [begin, end] data_offsets pair: " + value);
        DType dtype = dtype(path, key, dtypeNode.asText());
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode size = shapeNode.get(i);
            shape[i] = size.isIntegralNumber() && size.canConvertToLong() ? size.asLong() : -1;
            if (shape[i] < 0) throw bad(path, "key '" + key + "' has a negative or non-integer size in shape " + shapeNode);
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw bad(path, "key '" + key + "' has a shape " + shapeNode + " whose element count overflows");
            }
        }
        if (!offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber() || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong())
            throw bad(path, "key '" + key + "' has non-integer data_offsets " + offsets);
        long begin = offsets.get(0).asLong(), end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize)
            throw bad(path, "key '" + key + "' has data_offsets [" + begin + ", " + end + "] outside the " + dataSize + " data bytes");
        long expected;
        try {
            expected = Math.multiplyExact(numel, dtype.elementSize());
        } catch (ArithmeticException e) {
            throw bad(path, "key '" + key + "' has a shape " + shapeNode + " too large to address");
        }
        if (end - begin != expected)
            throw bad(path, "key '" + key + "' of shape " + shapeNode + " " + dtypeNode.asText() + " needs " + expected
                    + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        return new Entry(key, dtype, shape, dataStart + begin, dataStart + end);
    }

    private static DType dtype(Path path, String key, String name) {
        return switch (name) {
            case "F32" -> DType.FLOAT32;
            case "F64" -> DType.FLOAT64;
            case "F16" -> DType.FLOAT16;
            case "BF16" -> DType.BFLOAT16;
            case "I64" -> DType.INT64;
            case "I32" -> DType.INT32;
            case "I16" -> DType.INT16;
            case "I8" -> DType.INT8;
            case "U8" -> DType.UINT8;
            case "BOOL" -> DType.BOOL;
            default -> throw bad(path, "key '" + key + "' has unsupported dtype " + name);
        };
    }

    private static IllegalArgumentException bad(Path path, String what) {
        return new IllegalArgumentException("safetensors file " + path + " " + what);
    }

    public Path path() {
        return path;
    }

    public Set<String> keys() {
        return entries.keySet();
    }

    public boolean contains(String key) {
        return entries.containsKey(key);
    }

    public Entry entry(String key) {
        Entry e = entries.get(key);
        if (e == null) throw new IllegalArgumentException("safetensors file " + path + " has no key '" + key + "'");
        return e;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * The tensor under {@code key}, a view of the mapped file in the current scope (copy-on-write: in-place
     * changes stay in this process). Unaligned data is copied into a fresh tensor instead.
     */
    public Tensor tensor(String key) {
        Entry e = entry(key);
        MemorySegment data = file.asSlice(e.begin(), e.end() - e.begin());
        if (data.address() % e.dtype().elementSize() == 0) return Tensor.fromSegment(data, e.dtype(), e.shape());
        Tensor copy = Tensor.empty(e.dtype(), org.panamasd.Device.CPU, e.shape());
        MemorySegment.copy(data, 0, copy.data(), 0, data.byteSize());
        return copy;
    }

    /** Every tensor of the file, by key, in the current scope. */
    public Map<String, Tensor> tensors() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (String key : entries.keySet()) all.put(key, tensor(key));
        return all;
    }
}
