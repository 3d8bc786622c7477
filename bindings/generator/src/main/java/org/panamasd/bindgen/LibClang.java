package org.panamasd.bindgen;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BiFunction;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few libclang entry points the generator needs, bound by hand through FFM. This is the
 * bootstrap of the generator itself (it cannot generate its own parser's bindings); the product's
 * bindings all come out of the generator.
 */
final class LibClang {
    // CXCursor { int kind; int xdata; const void *data[3]; }
    static final StructLayout CURSOR = MemoryLayout.structLayout(JAVA_INT, JAVA_INT, MemoryLayout.sequenceLayout(3, ADDRESS));
    // CXType { int kind; void *data[2]; }
    static final StructLayout TYPE = MemoryLayout.structLayout(JAVA_INT, MemoryLayout.paddingLayout(4), MemoryLayout.sequenceLayout(2, ADDRESS));
    // CXString { const void *data; unsigned private_flags; }
    static final StructLayout STRING = MemoryLayout.structLayout(ADDRESS, JAVA_INT, MemoryLayout.paddingLayout(4));
    // CXSourceLocation { const void *ptr_data[2]; unsigned int_data; }
    static final StructLayout LOCATION = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(2, ADDRESS), JAVA_INT, MemoryLayout.paddingLayout(4));
    // CXSourceRange { const void *ptr_data[2]; unsigned begin_int_data, end_int_data; }
    static final StructLayout RANGE = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(2, ADDRESS), JAVA_INT, JAVA_INT);
    // CXToken { unsigned int_data[4]; void *ptr_data; }
    static final StructLayout TOKEN = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(4, JAVA_INT), ADDRESS);

    static final int CURSOR_STRUCT_DECL = 2;
    static final int CURSOR_UNION_DECL = 3;
    static final int CURSOR_ENUM_DECL = 5;
    static final int CURSOR_FIELD_DECL = 6;
    static final int CURSOR_ENUM_CONSTANT_DECL = 7;
    static final int CURSOR_FUNCTION_DECL = 8;
    static final int CURSOR_VAR_DECL = 9;
    static final int CURSOR_TYPEDEF_DECL = 20;
    static final int CURSOR_MACRO_DEFINITION = 501;

    static final int TYPE_VOID = 2, TYPE_BOOL = 3, TYPE_CHAR_U = 4, TYPE_UCHAR = 5, TYPE_USHORT = 8, TYPE_UINT = 9,
            TYPE_ULONG = 10, TYPE_ULONGLONG = 11, TYPE_CHAR_S = 13, TYPE_SCHAR = 14, TYPE_SHORT = 16, TYPE_INT = 17,
            TYPE_LONG = 18, TYPE_LONGLONG = 19, TYPE_FLOAT = 21, TYPE_DOUBLE = 22, TYPE_POINTER = 101, TYPE_RECORD = 105,
            TYPE_ENUM = 106, TYPE_FUNCTION_NO_PROTO = 110, TYPE_FUNCTION_PROTO = 111, TYPE_CONSTANT_ARRAY = 112,
            TYPE_INCOMPLETE_ARRAY = 114;

    static final int PARSE_DETAILED_PREPROCESSING_RECORD = 0x01;
    static final int PARSE_SKIP_FUNCTION_BODIES = 0x40;
    static final int VISIT_CONTINUE = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LOOKUP = SymbolLookup.libraryLookup(findLibrary(), Arena.global());

    private static Path findLibrary() {
        String configured = System.getProperty("bindgen.libclang");
        if (configured != null) return Path.of(configured);
        for (String candidate : List.of("/usr/lib/llvm-14/lib/libclang.so.1", "/usr/lib/x86_64-linux-gnu/libclang-14.so.1",
                "/usr/lib/llvm-15/lib/libclang.so.1", "/usr/lib/llvm-16/lib/libclang.so.1", "/usr/lib/x86_64-linux-gnu/libclang.so.1")) {
            if (Files.exists(Path.of(candidate))) return Path.of(candidate);
        }
        throw new IllegalStateException("libclang not found: install Debian's libclang1-14 (and libclang-common-14-dev)"
                + " or pass -Dbindgen.libclang=/path/to/libclang.so");
    }

    private static MethodHandle bind(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LOOKUP.findOrThrow(name), descriptor);
    }

    /**
     * libclang's crash recovery installs process-wide SIGSEGV/SIGBUS handlers; inside a JVM they catch the
     * VM's own signals (implicit null checks, safepoint polls) and turn them into crashes. It is switched
     * off through its environment variable before the first index is made, and toggled off again.
     */
    static void disableCrashRecovery() throws Throwable {
        MethodHandle setenv = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("setenv"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            int status = (int) setenv.invokeExact(arena.allocateFrom("LIBCLANG_DISABLE_CRASH_RECOVERY"), arena.allocateFrom("1"), 1);
            if (status != 0) throw new IllegalStateException("setenv(LIBCLANG_DISABLE_CRASH_RECOVERY) failed");
        }
        toggleCrashRecovery.invokeExact(0);
    }

    static final MethodHandle toggleCrashRecovery = bind("clang_toggleCrashRecovery", FunctionDescriptor.ofVoid(JAVA_INT));
    static final MethodHandle createIndex = bind("clang_createIndex", FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT));
    static final MethodHandle disposeIndex = bind("clang_disposeIndex", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle parseTranslationUnit = bind("clang_parseTranslationUnit",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    static final MethodHandle disposeTranslationUnit = bind("clang_disposeTranslationUnit", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle getNumDiagnostics = bind("clang_getNumDiagnostics", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    static final MethodHandle getDiagnostic = bind("clang_getDiagnostic", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle getDiagnosticSeverity = bind("clang_getDiagnosticSeverity", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    static final MethodHandle formatDiagnostic = bind("clang_formatDiagnostic", FunctionDescriptor.of(STRING, ADDRESS, JAVA_INT));
    static final MethodHandle disposeDiagnostic = bind("clang_disposeDiagnostic", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle getTranslationUnitCursor = bind("clang_getTranslationUnitCursor", FunctionDescriptor.of(CURSOR, ADDRESS));
    static final MethodHandle visitChildren = bind("clang_visitChildren", FunctionDescriptor.of(JAVA_INT, CURSOR, ADDRESS, ADDRESS));
    static final MethodHandle getCursorKind = bind("clang_getCursorKind", FunctionDescriptor.of(JAVA_INT, CURSOR));
    static final MethodHandle getCursorSpelling = bind("clang_getCursorSpelling", FunctionDescriptor.of(STRING, CURSOR));
    static final MethodHandle getCString = bind("clang_getCString", FunctionDescriptor.of(ADDRESS, STRING));
    static final MethodHandle disposeString = bind("clang_disposeString", FunctionDescriptor.ofVoid(STRING));
    static final MethodHandle getCursorType = bind("clang_getCursorType", FunctionDescriptor.of(TYPE, CURSOR));
    static final MethodHandle getCanonicalType = bind("clang_getCanonicalType", FunctionDescriptor.of(TYPE, TYPE));
    static final MethodHandle getPointeeType = bind("clang_getPointeeType", FunctionDescriptor.of(TYPE, TYPE));
    static final MethodHandle getResultType = bind("clang_getResultType", FunctionDescriptor.of(TYPE, TYPE));
    static final MethodHandle getNumArgTypes = bind("clang_getNumArgTypes", FunctionDescriptor.of(JAVA_INT, TYPE));
    static final MethodHandle getArgType = bind("clang_getArgType", FunctionDescriptor.of(TYPE, TYPE, JAVA_INT));
    static final MethodHandle isFunctionTypeVariadic = bind("clang_isFunctionTypeVariadic", FunctionDescriptor.of(JAVA_INT, TYPE));
    static final MethodHandle getTypeSpelling = bind("clang_getTypeSpelling", FunctionDescriptor.of(STRING, TYPE));
    static final MethodHandle typeGetSizeOf = bind("clang_Type_getSizeOf", FunctionDescriptor.of(JAVA_LONG, TYPE));
    static final MethodHandle typeGetAlignOf = bind("clang_Type_getAlignOf", FunctionDescriptor.of(JAVA_LONG, TYPE));
    static final MethodHandle getArrayElementType = bind("clang_getArrayElementType", FunctionDescriptor.of(TYPE, TYPE));
    static final MethodHandle getArraySize = bind("clang_getArraySize", FunctionDescriptor.of(JAVA_LONG, TYPE));
    static final MethodHandle getTypeDeclaration = bind("clang_getTypeDeclaration", FunctionDescriptor.of(CURSOR, TYPE));
    static final MethodHandle getTypedefDeclUnderlyingType = bind("clang_getTypedefDeclUnderlyingType", FunctionDescriptor.of(TYPE, CURSOR));
    static final MethodHandle cursorGetOffsetOfField = bind("clang_Cursor_getOffsetOfField", FunctionDescriptor.of(JAVA_LONG, CURSOR));
    static final MethodHandle cursorIsBitField = bind("clang_Cursor_isBitField", FunctionDescriptor.of(JAVA_INT, CURSOR));
    static final MethodHandle getEnumConstantDeclValue = bind("clang_getEnumConstantDeclValue", FunctionDescriptor.of(JAVA_LONG, CURSOR));
    static final MethodHandle cursorGetNumArguments = bind("clang_Cursor_getNumArguments", FunctionDescriptor.of(JAVA_INT, CURSOR));
    static final MethodHandle cursorGetArgument = bind("clang_Cursor_getArgument", FunctionDescriptor.of(CURSOR, CURSOR, JAVA_INT));
    static final MethodHandle getCursorLocation = bind("clang_getCursorLocation", FunctionDescriptor.of(LOCATION, CURSOR));
    static final MethodHandle locationIsFromMainFile = bind("clang_Location_isFromMainFile", FunctionDescriptor.of(JAVA_INT, LOCATION));
    static final MethodHandle getPresumedLocation = bind("clang_getPresumedLocation", FunctionDescriptor.ofVoid(LOCATION, ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle cursorIsMacroFunctionLike = bind("clang_Cursor_isMacroFunctionLike", FunctionDescriptor.of(JAVA_INT, CURSOR));
    static final MethodHandle getCursorExtent = bind("clang_getCursorExtent", FunctionDescriptor.of(RANGE, CURSOR));
    static final MethodHandle tokenize = bind("clang_tokenize", FunctionDescriptor.ofVoid(ADDRESS, RANGE, ADDRESS, ADDRESS));
    static final MethodHandle getTokenSpelling = bind("clang_getTokenSpelling", FunctionDescriptor.of(STRING, ADDRESS, TOKEN));
    static final MethodHandle disposeTokens = bind("clang_disposeTokens", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT));

    /** A cursor visitor as an upcall stub: (cursor, parent, client data) -> CXChildVisitResult. */
    static MemorySegment visitor(Arena arena, BiFunction<MemorySegment, MemorySegment, Integer> body) {
        try {
            MethodHandle target = MethodHandles.lookup().findVirtual(BiFunction.class, "apply",
                            MethodType.methodType(Object.class, Object.class, Object.class))
                    .bindTo(body)
                    .asType(MethodType.methodType(Integer.class, MemorySegment.class, MemorySegment.class));
            MethodHandle unboxed = MethodHandles.filterReturnValue(target,
                    MethodHandles.lookup().findVirtual(Integer.class, "intValue", MethodType.methodType(int.class)));
            MethodHandle withClientData = MethodHandles.dropArguments(unboxed, 2, MemorySegment.class);
            return LINKER.upcallStub(withClientData, FunctionDescriptor.of(JAVA_INT, CURSOR, CURSOR, ADDRESS), arena);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads and disposes a CXString. */
    static String string(MemorySegment cxString) throws Throwable {
        MemorySegment chars = (MemorySegment) getCString.invokeExact(cxString);
        String text = chars.equals(MemorySegment.NULL) ? "" : chars.reinterpret(Long.MAX_VALUE).getString(0);
        disposeString.invokeExact(cxString);
        return text;
    }

    static SegmentAllocator allocator(Arena arena) {
        return arena;
    }

    private LibClang() {}
}
