package org.panamasd.bindgen;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.internal.panamasd_h;
import org.panamasd.internal.psd_value;

/** The generator maps every declaration of panamasd.h in jextract's shape, and rejects what it cannot map. */
class BindgenTest {
    private static final Path HEADER = Path.of(System.getProperty("panamasd.root", ".."), "native/include/panamasd.h");

    /** Function names read from the header text with a regular expression: independent of the C parser. */
    private static Set<String> declaredFunctions() throws IOException {
        String text = Files.readString(HEADER).replaceAll("(?s)/\\*.*?\\*/", "");
        Matcher m = Pattern.compile("^\\s*(?:const\\s+)?\\w+\\s*\\*?\\s*(psd_\\w+)\\s*\\(", Pattern.MULTILINE).matcher(text);
        Set<String> names = new java.util.TreeSet<>();
        while (m.find()) names.add(m.group(1));
        return names;
    }

    @Test
    void everyFunctionOfTheHeaderIsGenerated() throws IOException {
        Set<String> declared = declaredFunctions();
        assertTrue(declared.size() > 150, "found " + declared.size());
        Set<String> generated = Arrays.stream(panamasd_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getName().startsWith("psd_") && !m.getName().contains("$"))
                .map(Method::getName).collect(Collectors.toSet());
        assertEquals(declared, generated.stream().filter(declared::contains).collect(Collectors.toSet()));
        for (String name : declared) {
            assertDoesNotThrow(() -> panamasd_h.class.getMethod(name + "$descriptor"), name);
            assertDoesNotThrow(() -> panamasd_h.class.getMethod(name + "$handle"), name);
            assertDoesNotThrow(() -> panamasd_h.class.getMethod(name + "$address"), name);
        }
    }

    @Test
    void parsedHeaderHasEveryDeclarationWithTheRightTypes() {
        Header header = HeaderParser.parse(HEADER.toAbsolutePath(), List.of());
        var add = header.functions().stream().filter(f -> f.name().equals("psd_tensor_add")).findFirst().orElseThrow();
        assertEquals(List.of("a", "b", "alpha", "ret"), add.parameters().stream().map(Header.Parameter::name).toList());
        assertEquals(List.of(CType.Kind.POINTER, CType.Kind.POINTER, CType.Kind.DOUBLE, CType.Kind.POINTER),
                add.parameters().stream().map(p -> p.type().kind()).toList());
        assertEquals(CType.Kind.INT, add.returnType().kind());
        Set<String> constants = header.constants().stream().map(Header.Constant::name).collect(Collectors.toSet());
        assertTrue(constants.containsAll(Set.of("PSD_ABI_VERSION", "PSD_MAX_DIMS", "PSD_OK", "PSD_ERR_TORCH", "PSD_VALUE_TENSOR_LIST", "PSD_REDUCTION_SUM")));
        assertEquals(Set.of("psd_value", "psd_memory_stats", "psd_pool_stats", "psd_alloc_event"), header.structs().stream().map(Header.Struct::name).collect(Collectors.toSet()));
        // jextract-shaped constants and structs, with clang's offsets
        assertEquals(2, panamasd_h.PSD_ABI_VERSION());  // 2: psd_runtime_init_v2, psd_inference_mode_exit_v2
        assertEquals(64, psd_value.sizeof());
        assertEquals(24, psd_value.tensor$offset());
        assertEquals(panamasd_h.C_POINTER.byteSize(), psd_value.str$layout().byteSize());
        assertEquals(8, org.panamasd.internal.psd_pool_stats.limit_bytes$offset(), "a bool, then padding to the int64");
        assertEquals(40, org.panamasd.internal.psd_pool_stats.sizeof());
        assertEquals(28, org.panamasd.internal.psd_alloc_event.op$offset(), "two int32 tags after three int64");
        assertEquals(32, org.panamasd.internal.psd_alloc_event.sizeof());
    }

    @Test
    void structsWithPaddingAndArraysAreLaidOutAsClangDoes(@TempDir Path dir) throws IOException {
        Path h = dir.resolve("demo.h");
        Files.writeString(h, """
                #include <stdint.h>
                typedef struct demo_shape { int8_t flag; int64_t dims[4]; int32_t rank; } demo_shape;
                int32_t demo_fill(demo_shape *shape, double value);
                """);
        Header header = HeaderParser.parse(h, List.of());
        Header.Struct shape = header.structs().getFirst();
        assertEquals(48, shape.size());
        assertEquals(List.of(0L, 8L, 40L), shape.fields().stream().map(Header.Field::offset).toList());
        String source = new JavaEmitter(header, "demo", "demo_h", "demo.h").sources().get("demo_shape.java");
        assertTrue(source.contains("MemoryLayout.paddingLayout(7)"), source);
        assertTrue(source.contains("dims$dimensions()"), source);
        assertTrue(source.contains("public static long dims(MemorySegment struct, long index0)"), source);
    }

    @Test
    void unmappableDeclarationsAreRejectedByName(@TempDir Path dir) throws IOException {
        String[][] cases = {
                {"int f(int n, ...);", "'f'", "variadic"},
                {"struct bits { int a : 3; };", "'a'", "bit-field"},
                {"union u { int a; float b; };", "'u'", "unions"},
                {"#define SQUARE(x) ((x) * (x))", "'SQUARE'", "function-like"},
                {"typedef void (*callback)(int);", "'callback'", "function pointer"},
                {"extern int counter;", "'counter'", "global variables"},
                {"#define NAME \"text\"", "'NAME'", "not an integer literal"},
                {"long double g(void);", "'g'", "unsupported type"},
        };
        for (String[] c : cases) {
            Path h = dir.resolve("bad.h");
            Files.writeString(h, "#include <stdint.h>\n" + c[0] + "\n");
            var e = assertThrows(UnmappableDeclarationException.class, () -> HeaderParser.parse(h, List.of()), c[0]);
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains(c[2]) && e.getMessage().contains("bad.h:2"), e.getMessage());
        }
        Path cxx = dir.resolve("cxx.h");
        Files.writeString(cxx, "namespace psd { int f(); }\n");
        assertThrows(IllegalArgumentException.class, () -> HeaderParser.parse(cxx, List.of()));
    }

    @Test
    void integerMacroLiterals() {
        assertEquals(16L, HeaderParser.integerLiteral(List.of("16")));
        assertEquals(-3L, HeaderParser.integerLiteral(List.of("(", "-", "3", ")")));
        assertEquals(255L, HeaderParser.integerLiteral(List.of("0xFFu")));
        assertNull(HeaderParser.integerLiteral(List.of("1", "+", "2")));
    }
}
