package org.panamasd.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A private (copy-on-write) memory mapping of a file opened read-only. Java's FileChannel.map refuses
 * MapMode.PRIVATE on a read-only channel, and a READ_ONLY mapping would make any in-place tensor op fault
 * inside libtorch; POSIX allows PROT_READ|PROT_WRITE with MAP_PRIVATE on a read-only descriptor, so the
 * mapping is made through libc. It is unmapped when its automatic arena becomes unreachable, that is
 * after the last tensor that refers to it is freed.
 *
 * <p>A file written over in place while mapped (same inode: {@code cp} onto it, a truncation) changes the
 * weights under the process, or raises SIGBUS inside native code when a page past its new end is read. Replacing
 * a model file by renaming a new one into place is safe: the mapping keeps the old inode. {@link #changedInPlace}
 * names the mapped files whose size or modification time changed under their mapping, a stat per file, for a
 * long-running process to check before it uses them.
 */
public final class MappedFile {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle OPEN = libc("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle MMAP = libc("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MUNMAP = libc("munmap", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final int O_RDONLY = 0, PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2;

    private static MethodHandle libc(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor);
    }

    /** A live mapping: the file as it was when mapped. */
    private record Mapped(Path path, Object fileKey, long size, java.nio.file.attribute.FileTime modified) {}

    private static final java.util.Map<Long, Mapped> LIVE = new java.util.concurrent.ConcurrentHashMap<>();

    /** Mapped files changed in place since they were mapped (each with what changed), in no particular order. */
    public static java.util.List<String> changedInPlace() {
        java.util.List<String> changed = new java.util.ArrayList<>();
        for (Mapped m : LIVE.values()) {
            java.nio.file.attribute.BasicFileAttributes now;
            try {
                now = Files.readAttributes(m.path(), java.nio.file.attribute.BasicFileAttributes.class);
            } catch (IOException e) {
                continue;  // deleted or renamed away: the mapping keeps the old inode
            }
            if (m.fileKey() == null || !m.fileKey().equals(now.fileKey())) continue;  // another file at the path now: ours is intact
            if (now.size() != m.size() || !now.lastModifiedTime().equals(m.modified()))
                changed.add(m.path() + " (size " + m.size() + " -> " + now.size() + " bytes, modified " + m.modified() + " -> " + now.lastModifiedTime() + ")");
        }
        return changed;
    }

    static MemorySegment map(Path path) {
        long size;
        java.nio.file.attribute.BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class);
            size = attributes.size();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
        if (size == 0) return MemorySegment.NULL.reinterpret(0);
        try (Arena call = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(call.allocateFrom(path.toAbsolutePath().toString()), O_RDONLY);
            if (fd < 0) throw new UncheckedIOException(new IOException("cannot open " + path));
            MemorySegment address;
            try {
                address = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0L);
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
            if (address.address() == -1L) throw new UncheckedIOException(new IOException("cannot map " + path));
            LIVE.put(address.address(), new Mapped(path.toAbsolutePath(), attributes.fileKey(), size, attributes.lastModifiedTime()));
            return address.reinterpret(size, Arena.ofAuto(), MappedFile::unmap);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("libc call failed mapping " + path, t);
        }
    }

    private static void unmap(MemorySegment mapping) {
        LIVE.remove(mapping.address());
        try {
            int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(mapping.address()), mapping.byteSize());
        } catch (Throwable ignored) {
            // nothing to do in a cleanup action
        }
    }

    private MappedFile() {}
}
