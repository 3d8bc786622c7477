package org.panamasd.io;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

class ImageAndSafeTensorsTest extends NativeTest {

    @Test
    void pngRoundTripKeepsEightBitValues(@TempDir Path dir) {
        try (Scope scope = Scope.open()) {
            float[] values = new float[3 * 4 * 5];
            for (int i = 0; i < values.length; i++) values[i] = (i * 17 % 256) / 255f;
            Tensor image = Tensor.of(values, 1, 3, 4, 5);
            Path file = dir.resolve("x.png");
            ImageFiles.writePng(image, file);
            assertArrayEquals(values, ImageFiles.readRgb(file).toFloatArray(), 1e-6f);
            assertThrows(IllegalArgumentException.class, () -> ImageFiles.writePng(Tensor.zeros(3, 4, 5), dir.resolve("bad.png")));
        }
    }

    private static Path file(Path dir, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(json.length).put(json).put(data);
        Path f = dir.resolve("t.safetensors");
        Files.write(f, buffer.array());
        return f;
    }

    @Test
    void safetensorsAreZeroCopyAndCopyOnWrite(@TempDir Path dir) throws IOException {
        byte[] data = new byte[16];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2).putFloat(3).putFloat(4);
        Path f = file(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"__metadata__\":{\"format\":\"pt\"}}", data);
        try (Scope scope = Scope.open()) {
            SafeTensors st = SafeTensors.open(f);
            assertEquals("pt", st.metadata().get("format"));
            Tensor w = st.tensor("w");
            assertArrayEquals(new float[] {1, 2, 3, 4}, w.toFloatArray());
            w.fill(9);  // an in-place op on a loaded tensor: private pages, the file is untouched
            assertArrayEquals(new float[] {9, 9, 9, 9}, w.toFloatArray());
            assertArrayEquals(new float[] {1, 2, 3, 4}, SafeTensors.open(f).tensor("w").toFloatArray());
        }
    }

    /** Paged-out memory reads back the same values: from the file for a mapped tensor, kept for a written one. */
    @Test
    void pagedOutTensorsReadTheSameValuesAfter(@TempDir Path dir) {
        try (Scope scope = Scope.open(); org.panamasd.Generator g = new org.panamasd.Generator(1)) {
            Tensor big = Tensor.randn(g, 3, 1000, 7);  // spans whole pages, at an offset that is not page-aligned
            Path f = dir.resolve("w.safetensors");
            SafeTensorsWriter.write(java.util.Map.of("small", Tensor.randn(g, 5), "big", big), java.util.Map.of(), f);
            SafeTensors st = SafeTensors.open(f);
            Tensor mapped = st.tensor("big"), written = st.tensor("small");
            assertArrayEquals(big.toFloatArray(), mapped.toFloatArray());  // resident now
            written.fill(3);                                               // a private, written page
            assertTrue(mapped.pageOut() > 0, "whole pages inside the mapped tensor were advised");
            written.pageOut();
            assertEquals(0, big.pageOut(), "libtorch's own memory is never advised");
            assertArrayEquals(big.toFloatArray(), mapped.toFloatArray());
            assertArrayEquals(new float[] {3, 3, 3, 3, 3}, written.toFloatArray());
            try (org.panamasd.nn.StateDict bf16 = org.panamasd.nn.StateDict.open(f, org.panamasd.Device.CPU, org.panamasd.DType.BFLOAT16)) {
                assertArrayEquals(big.to(org.panamasd.DType.BFLOAT16).toFloatArray(), bf16.get("big", 3, 1000, 7).toFloatArray());
            }
        }
    }

    @Test
    void badFilesFailNamingTheProblem(@TempDir Path dir) throws IOException {
        String[][] cases = {
                {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,32]}}", "outside the 16 data bytes"},
                {"{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,16]}}", "needs 24 bytes"},
                {"{\"w\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}", "unsupported dtype Q4"},
                {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", "negative"},
                {"not json", "not JSON"},
                {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", "overflows"},
                {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", "non-integer size"},
                {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1e30]}}", "non-integer data_offsets"},
        };
        for (String[] c : cases) {
            Path f = file(dir, c[0], new byte[16]);
            var e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(f), c[0]);
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains(f.toString()), e.getMessage());
        }
        Path truncated = dir.resolve("short.safetensors");
        Files.write(truncated, new byte[] {100, 0, 0, 0, 0, 0, 0, 0, '{'});
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(truncated)).getMessage().contains("declares a header of 100 bytes"));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(dir.resolve("missing.safetensors")));
        try (Scope scope = Scope.open()) {
            Path ok = file(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[16]);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(ok).tensor("v")).getMessage().contains("no key 'v'"));
        }
    }

    /** Random corruptions of a valid file: every one either loads or fails with IllegalArgumentException, never worse. */
    @Test
    void corruptedFilesNeverCrash(@TempDir Path dir) throws IOException {
        byte[] data = new byte[24];
        Path good = file(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]}}", data);
        byte[] original = Files.readAllBytes(good);
        java.util.Random random = new java.util.Random(7);
        int loaded = 0, rejected = 0;
        for (int trial = 0; trial < 500; trial++) {
            byte[] bytes = original.clone();
            int edits = 1 + random.nextInt(4);
            for (int e = 0; e < edits; e++) bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
            if (random.nextInt(5) == 0) bytes = java.util.Arrays.copyOf(bytes, random.nextInt(bytes.length));
            Path f = dir.resolve("fuzz.safetensors");
            Files.write(f, bytes);
            try (Scope scope = Scope.open()) {
                SafeTensors st = SafeTensors.open(f);
                for (String key : st.keys()) st.tensor(key).sum();
                loaded++;
            } catch (IllegalArgumentException expected) {
                rejected++;
            }
        }
        assertEquals(500, loaded + rejected);
        assertTrue(rejected > 100, "most corruptions are caught: " + rejected);
    }
}
