package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * A scope whose release of one tensor fails still frees the others, ends closed and is popped. The failure
 * is real: a tensor's data() segment is in use by a native call (libc read() blocked on an empty pipe), so
 * its memory must not be freed yet.
 */
class ScopeFailureTest extends NativeTest {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle PIPE = libc("pipe", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle READ = libc("read", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle WRITE = libc("write", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private static MethodHandle libc(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor);
    }

    @Test
    void aFailedReleaseFreesTheRestClosesAndPops() throws Throwable {
        // the reader must be inside read() when the scope closes; if it was not yet, close succeeded (and the
        // late read was refused): try again, waiting longer
        for (long wait = 100; wait <= 3200; wait *= 2) if (attempt(wait)) return;
        fail("the reader thread never entered read() in time");
    }

    private boolean attempt(long waitMillis) throws Throwable {
        long baseline = MemoryStats.liveTensorCount();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            assertEquals(0, (int) PIPE.invokeExact(fds));
            int readEnd = fds.getAtIndex(ValueLayout.JAVA_INT, 0), writeEnd = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
            try (Scope outer = Scope.open()) {
                Scope scope = Scope.open();
                Tensor.zeros(4);
                Tensor busy = Tensor.zeros(4);
                Tensor.zeros(4);
                MemorySegment data = busy.data();
                Thread reader = Thread.ofPlatform().start(() -> {
                    try {
                        long ignored = (long) READ.invokeExact(readEnd, data, 4L);  // holds data's arena until written
                    } catch (Throwable late) {
                        // the scope closed before read() began: data was already invalid, nothing was read
                    }
                });
                Thread.sleep(waitMillis);
                IllegalStateException failure;
                try {
                    scope.close();
                    reader.join();
                    assertEquals(baseline, MemoryStats.liveTensorCount());
                    return false;
                } catch (IllegalStateException e) {
                    failure = e;
                }
                assertTrue(failure.getMessage().contains("data() segment is in use"), failure.getMessage());
                assertFalse(scope.isOpen(), "the scope ends closed");
                assertSame(outer, Scope.current(), "and is popped");
                assertEquals(baseline + 1, MemoryStats.liveTensorCount(), "the other tensors were freed");

                MemorySegment one = arena.allocate(4);
                assertEquals(4L, (long) WRITE.invokeExact(writeEnd, one, 4L));
                reader.join();
                busy.close();  // the native call is over: freeing it now works
                assertEquals(baseline, MemoryStats.liveTensorCount());
                return true;
            } finally {
                int a = (int) CLOSE.invokeExact(readEnd), b = (int) CLOSE.invokeExact(writeEnd);
            }
        }
    }
}
