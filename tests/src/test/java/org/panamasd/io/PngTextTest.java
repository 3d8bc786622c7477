package org.panamasd.io;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * PNG text chunks as other readers see them: a chunk walker written here from the PNG spec (length, type, data,
 * CRC-32 over type and data) must find every pair with a valid CRC, and javax.imageio must read the image back.
 */
class PngTextTest extends NativeTest {

    @Test
    void textChunksHaveValidCrcsAndReadBackInOrder(@TempDir Path dir) throws IOException {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("prompt", "a photo of an ankle boot");
        text.put("seed", "42");
        text.put("parameters", "a photo of an ankle boot\nSteps: 1, Sampler: DDIMScheduler, CFG scale: 0.0, Seed: 42");
        text.put("negative_prompt", "blurry, café");  // Latin-1: still tEXt
        text.put("caption", "靴の写真");              // not Latin-1: iTXt (UTF-8)
        Path file = dir.resolve("t.png");
        try (Scope scope = Scope.open()) {
            ImageFiles.writePng(Tensor.zeros(1, 3, 8, 6), file, text);
        }
        Map<String, String> walked = walkChunks(Files.readAllBytes(file));
        assertEquals(text, walked, "what an independent chunk reader finds");
        assertEquals(text, PngText.read(file));
        assertTrue(Files.getPosixFilePermissions(file).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ),
                "an image is readable by all, not private like the temporary file it was written as");
        try (Scope scope = Scope.open()) {
            assertArrayEquals(new long[] {1, 3, 8, 6}, ImageFiles.readRgb(file).shape(), "the image itself still reads");
        }
    }

    @Test
    void aPngWithoutTextHasNoEntriesAndOtherFilesAreRefusedByName(@TempDir Path dir) throws IOException {
        Path plain = dir.resolve("plain.png");
        try (Scope scope = Scope.open()) {
            ImageFiles.writePng(Tensor.zeros(1, 3, 4, 4), plain);
        }
        assertEquals(Map.of(), PngText.read(plain));
        Path junk = Files.writeString(dir.resolve("junk.png"), "not a picture");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PngText.read(junk));
        assertTrue(e.getMessage().contains("junk.png"), e.getMessage());
        byte[] truncated = java.util.Arrays.copyOf(Files.readAllBytes(plain), 40);
        Path cut = Files.write(dir.resolve("cut.png"), truncated);
        e = assertThrows(IllegalArgumentException.class, () -> PngText.read(cut));
        assertTrue(e.getMessage().contains("cut.png") && e.getMessage().contains("not a readable PNG"), e.getMessage());
        try (Scope scope = Scope.open()) {
            Tensor image = Tensor.zeros(1, 3, 2, 2);
            assertThrows(IllegalArgumentException.class, () -> ImageFiles.writePng(image, dir.resolve("k.png"), Map.of("", "x")),
                    "an empty keyword breaks the spec");
        }
    }

    /** tEXt: keyword NUL text (Latin-1); iTXt: keyword NUL flag method language NUL translated NUL text (UTF-8). */
    private static Map<String, String> walkChunks(byte[] png) throws IOException {
        byte[] signature = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        assertArrayEquals(signature, java.util.Arrays.copyOf(png, 8), "PNG signature");
        Map<String, String> found = new LinkedHashMap<>();
        ByteBuffer b = ByteBuffer.wrap(png, 8, png.length - 8);  // big-endian, as PNG
        while (b.remaining() >= 12) {
            int length = b.getInt();
            byte[] typeAndData = new byte[4 + length];
            b.get(typeAndData);
            CRC32 crc = new CRC32();
            crc.update(typeAndData);
            assertEquals(crc.getValue(), b.getInt() & 0xffffffffL, "CRC of a " + new String(typeAndData, 0, 4, StandardCharsets.ISO_8859_1) + " chunk");
            String type = new String(typeAndData, 0, 4, StandardCharsets.ISO_8859_1);
            byte[] data = java.util.Arrays.copyOfRange(typeAndData, 4, typeAndData.length);
            int nul = type.equals("tEXt") || type.equals("iTXt") ? indexOf(data, 0, 0) : -1;
            if (type.equals("tEXt")) {
                found.put(new String(data, 0, nul, StandardCharsets.ISO_8859_1), new String(data, nul + 1, data.length - nul - 1, StandardCharsets.ISO_8859_1));
            } else if (type.equals("iTXt")) {
                boolean compressed = data[nul + 1] == 1;
                int language = indexOf(data, nul + 3, 0), translated = indexOf(data, language + 1, 0);
                byte[] value = java.util.Arrays.copyOfRange(data, translated + 1, data.length);
                found.put(new String(data, 0, nul, StandardCharsets.ISO_8859_1), new String(compressed ? inflate(value) : value, StandardCharsets.UTF_8));
            }
            if (type.equals("IEND")) break;
        }
        return found;
    }

    private static int indexOf(byte[] data, int from, int value) {
        for (int i = from; i < data.length; i++) if (data[i] == value) return i;
        throw new AssertionError("no NUL separator in a text chunk");
    }

    private static byte[] inflate(byte[] deflated) {
        try {
            Inflater inflater = new Inflater();
            inflater.setInput(deflated);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[4096];
            while (!inflater.finished()) out.write(buffer, 0, inflater.inflate(buffer));
            inflater.end();
            return out.toByteArray();
        } catch (java.util.zip.DataFormatException e) {
            throw new AssertionError(e);
        }
    }
}
