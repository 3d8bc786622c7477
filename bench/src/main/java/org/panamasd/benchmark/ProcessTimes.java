package org.panamasd.benchmark;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * This process's CPU time in user and kernel mode and its page faults, all threads together (getrusage(RUSAGE_SELF)):
 * what a benchmark subtracts around its timed calls to show how much of a step the kernel takes (mapping, zeroing
 * and unmapping pages) and how many pages it faulted in.
 */
public record ProcessTimes(long userNanos, long systemNanos, long minorFaults, long majorFaults) {
    // struct rusage on Linux x86-64 and aarch64: two struct timeval (16 bytes each), then longs; ru_minflt at 64, ru_majflt at 72
    private static final long SIZE = 144, MINOR = 64, MAJOR = 72;
    private static final Optional<MethodHandle> GETRUSAGE = Linker.nativeLinker().defaultLookup().find("getrusage")
            .map(a -> Linker.nativeLinker().downcallHandle(a, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS)));

    /** Now; null where getrusage is missing or fails. */
    public static ProcessTimes now() {
        if (GETRUSAGE.isEmpty()) return null;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment usage = arena.allocate(SIZE, 8);
            int status = (int) GETRUSAGE.get().invokeExact(0 /* RUSAGE_SELF */, usage);
            if (status != 0) return null;
            return new ProcessTimes(timeval(usage, 0), timeval(usage, 16), usage.get(ValueLayout.JAVA_LONG, MINOR), usage.get(ValueLayout.JAVA_LONG, MAJOR));
        } catch (Throwable e) {
            return null;
        }
    }

    private static long timeval(MemorySegment usage, long offset) {
        return usage.get(ValueLayout.JAVA_LONG, offset) * 1_000_000_000L + usage.get(ValueLayout.JAVA_LONG, offset + 8) * 1_000L;
    }

    /** What happened between {@code earlier} and this. */
    public ProcessTimes since(ProcessTimes earlier) {
        return new ProcessTimes(userNanos - earlier.userNanos, systemNanos - earlier.systemNanos, minorFaults - earlier.minorFaults,
                majorFaults - earlier.majorFaults);
    }
}
