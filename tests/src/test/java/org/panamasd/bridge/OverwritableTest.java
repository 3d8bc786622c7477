package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Generator;
import org.panamasd.MemoryFormat;
import org.panamasd.Overwritable;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * The in-place protocol in types: a method that writes over its argument takes an {@link Overwritable}, which only
 * {@link Tensor#giveUp()} makes, and giving up closes the caller's handle.
 */
class OverwritableTest extends NativeTest {

    @Test
    void givingUpClosesTheHandleAndHandsOverTheSameMemoryOnce() {
        try (Scope s = Scope.open(); Generator g = new Generator(1)) {
            Tensor base = Tensor.randn(g, 2, 6, 5, 4);
            // a batch of 1 in channels-last too: its size-1 dimension's stride must stay as it was, or later ops stop
            // suggesting channels-last for it
            Tensor[] layouts = {base.copy(), base.copy().contiguous(MemoryFormat.CHANNELS_LAST), base.copy().narrow(1, 2, 3),
                    base.narrow(0, 0, 1).contiguous(MemoryFormat.CHANNELS_LAST)};
            for (Tensor t : layouts) {
                long address = t.address();
                long[] shape = t.shape(), strides = t.strides();
                float[] values = t.toFloatArray();
                Overwritable given = t.giveUp();
                assertFalse(t.isOpen());
                var e = assertThrows(IllegalStateException.class, t::toFloatArray, "the caller's handle is closed");
                assertTrue(e.getMessage().contains("closed"), e.getMessage());
                assertFalse(given.taken());
                Tensor mine = given.take();
                assertEquals(address, mine.address(), "the same memory");
                assertArrayEquals(shape, mine.shape());
                assertArrayEquals(strides, mine.strides(), "the same layout");
                assertArrayEquals(values, mine.toFloatArray());
                assertSame(s, mine.scope(), "owned where the given-up tensor was");
                var twice = assertThrows(IllegalStateException.class, given::take);
                assertTrue(twice.getMessage().contains("taken already"), twice.getMessage());
            }
            Tensor closed = base.copy();
            closed.close();
            assertThrows(IllegalStateException.class, closed::giveUp, "a closed tensor has nothing to give up");
        }
    }

    @Test
    void givingUpInAnInnerScopeKeepsTheMemoryWithItsOwner() {
        try (Scope outer = Scope.open(); Generator g = new Generator(2)) {
            Tensor t = Tensor.randn(g, 3, 3);
            Overwritable given;
            try (Scope inner = Scope.open()) {
                given = t.giveUp();
            }
            Tensor mine = given.take();
            assertTrue(mine.isOpen(), "the inner scope's close did not free it");
            assertSame(outer, mine.scope());
        }
    }

    /** Passing a tensor the caller keeps, where a method writes over its argument, does not compile. */
    @Test
    void passingATensorWhereItIsWrittenOverDoesNotCompile(@TempDir Path out) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "a JDK's compiler");
        String misuse = """
                import org.panamasd.Tensor;
                import org.panamasd.nn.BandedConvolution;
                import org.panamasd.nn.Conv2d;
                import org.panamasd.nn.GroupNorm;
                class Misuse {
                    Tensor run(GroupNorm norm, Conv2d conv, Tensor x) {
                        Tensor y = BandedConvolution.normSiluConvOver(norm, conv, x);
                        return y.add(x);  // x read after it was written over: what the type rules out
                    }
                }""";
        String fixed = misuse.replace("normSiluConvOver(norm, conv, x)", "normSiluConvOver(norm, conv, x.giveUp())").replace("y.add(x)", "y");
        assertEquals("", compile(javac, fixed, out), "the intended use compiles");
        String errors = compile(javac, misuse, out);
        assertTrue(errors.contains("Tensor cannot be converted to Overwritable") || errors.contains("incompatible types"), errors);
    }

    private static String compile(JavaCompiler javac, String source, Path out) {
        var file = new SimpleJavaFileObject(URI.create("string:///Misuse.java"), javax.tools.JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return source;
            }
        };
        StringWriter errors = new StringWriter();
        String classpath = classpath();
        boolean ok = javac.getTask(errors, null, null, List.of("-d", out.toString(), "-cp", classpath, "-proc:none"), null, List.of(file)).call();
        return ok ? "" : errors.toString().isEmpty() ? "failed" : errors.toString();
    }

    /** The test JVM's class path (surefire may pass it in a manifest-only jar: javac follows its Class-Path). */
    private static String classpath() {
        String cp = System.getProperty("java.class.path");
        String surefire = System.getProperty("surefire.test.class.path");
        return surefire != null && !surefire.isBlank() ? surefire : cp == null ? "" : String.join(File.pathSeparator, cp.split(File.pathSeparator));
    }
}
