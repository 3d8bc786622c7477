package org.panamasd.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tag;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;

/**
 * The readers of files users bring, fed damaged and made-up files: a safetensors file with bytes flipped, cut
 * short, its header length or header replaced, and configs of any JSON. Each either reads or fails with an
 * IllegalArgumentException (or UncheckedIOException) that names the file; nothing else may escape, and the
 * JVM must not crash. Tries: {@code jqwik.tries.default} (the default suite a few seconds; {@code -Pfuzz} more).
 */
@Tag("fuzz")
class FileReadersFuzzTest {
    private static Path dir;
    private static byte[] valid;

    @BeforeContainer
    static void makeAValidFile() throws IOException {
        dir = Files.createTempDirectory("fuzz-readers");
        Path file = dir.resolve("valid.safetensors");
        try (Scope scope = Scope.open()) {
            SafeTensorsWriter.write(Map.of("unet.conv.weight", Tensor.ones(2, 3, 3, 3), "unet.conv.bias", Tensor.zeros(2), "step", Tensor.of(new float[] {7}, 1)),
                    Map.of("format", "pt"), file);
        }
        valid = Files.readAllBytes(file);
    }

    @AfterContainer
    static void removeTheFiles() throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** A way to damage the valid file. */
    record Damage(String kind, int position, int value, String text) {
        byte[] apply(byte[] original) {
            byte[] b = original.clone();
            int at = Math.floorMod(position, b.length);
            return switch (kind) {
                case "flip" -> {
                    b[at] = (byte) value;
                    yield b;
                }
                case "cut" -> java.util.Arrays.copyOf(b, at);
                case "length" -> {
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value < 0 ? Long.MAX_VALUE - value : (long) value * 7919);
                    yield b;
                }
                default -> {  // "header": a made-up header over the original data
                    byte[] header = text.getBytes(StandardCharsets.UTF_8);
                    long oldHeader = ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                    byte[] data = java.util.Arrays.copyOfRange(original, (int) (8 + oldHeader), original.length);
                    ByteBuffer out = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
                    yield out.putLong(header.length).put(header).put(data).array();
                }
            };
        }
    }

    @Provide
    Arbitrary<Damage> damages() {
        Arbitrary<String> headers = Arbitraries.oneOf(
                Arbitraries.strings().ofMaxLength(60),
                Combinators.combine(Arbitraries.of("F32", "F16", "BF16", "I64", "U8", "BOOL", "F8", "", "f32"),
                        Arbitraries.longs().between(-3, 1L << 40), Arbitraries.longs().between(-3, 1L << 40),
                        Arbitraries.longs().between(-2, 400), Arbitraries.of("shape", "shap", "data_offsets"))
                        .as((dtype, d0, d1, end, field) -> "{\"w\": {\"dtype\": \"" + dtype + "\", \"" + field + "\": [" + d0 + ", " + d1
                                + "], \"data_offsets\": [0, " + end + "]}}"),
                Arbitraries.of("{}", "[]", "null", "{\"__metadata__\": 5}", "{\"w\": 3}", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1e400], \"data_offsets\": [0, 4]}}",
                        "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [\"a\", 8]}}"));
        return Combinators.combine(Arbitraries.of("flip", "cut", "length", "header"), Arbitraries.integers(), Arbitraries.integers().between(-128, 1 << 20), headers)
                .as(Damage::new);
    }

    @Property
    void aDamagedSafetensorsFileReadsOrFailsNamingTheFile(@ForAll("damages") Damage damage) throws IOException {
        Path file = Files.write(dir.resolve("damaged.safetensors"), damage.apply(valid));
        try (Scope scope = Scope.open()) {
            SafeTensors st = SafeTensors.open(file);
            for (String key : st.keys()) st.tensor(key).toDoubleArray();  // every byte of every tensor is read
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains(file.toString())) throw new AssertionError("the message does not name the file: " + e.getMessage(), e);
        }
    }

    @Property
    void anyConfigTextParsesOrFailsAndTypedReadsFailByName(@ForAll("configs") String json) {
        DiffusersConfig config;
        try {
            config = DiffusersConfig.parse(json);
        } catch (IllegalArgumentException e) {
            return;
        }
        for (String field : List.of("in_channels", "block_out_channels", "beta_schedule", "x")) {
            try {
                config.integer(field, 1);
                config.number(field, 1);
                config.bool(field, false);
                config.string(field, "");
                config.integers(field, 2, 1);
                config.strings(field, List.of());
                if (config.has(field)) config.numbers(field);
            } catch (IllegalArgumentException e) {
                if (!e.getMessage().contains(field)) throw new AssertionError("the message does not name '" + field + "': " + e.getMessage(), e);
            } catch (UncheckedIOException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Provide
    Arbitrary<String> configs() {
        Arbitrary<String> values = Arbitraries.of("1", "-1", "2.5", "1e400", "\"a\"", "null", "true", "[]", "[1, 2]", "[\"a\", 1]", "{}", "{\"a\": 1}",
                "[[1]]", "9999999999999", "NaN", "-Infinity");
        Arbitrary<String> objects = Combinators.combine(Arbitraries.of("in_channels", "block_out_channels", "beta_schedule", "x"), values,
                Arbitraries.of("in_channels", "block_out_channels", "beta_schedule", "x"), values).as((a, va, b, vb) -> "{\"" + a + "\": " + va + ", \"" + b + "\": " + vb + "}");
        return Arbitraries.oneOf(objects, Arbitraries.strings().ofMaxLength(40));
    }
}
