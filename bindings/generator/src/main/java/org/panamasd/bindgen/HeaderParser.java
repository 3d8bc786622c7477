package org.panamasd.bindgen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.panamasd.bindgen.LibClang.*;

/**
 * Parses a C header with libclang (a real C parser) and reduces the declarations of that header
 * alone (not what it includes) to a {@link Header}. Anything it cannot map fails with an
 * {@link UnmappableDeclarationException} that names the declaration and its line.
 */
public final class HeaderParser {

    private static final Set<String> JAVA_KEYWORDS = Set.of("abstract", "assert", "boolean", "break", "byte", "case",
            "catch", "char", "class", "const", "continue", "default", "do", "double", "else", "enum", "extends", "final",
            "finally", "float", "for", "goto", "if", "implements", "import", "instanceof", "int", "interface", "long",
            "native", "new", "package", "private", "protected", "public", "return", "short", "static", "strictfp",
            "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try", "void", "volatile", "while",
            "var", "record", "yield", "sealed", "permits", "true", "false", "null");

    private final Arena arena = Arena.ofConfined();
    private final SegmentAllocator allocator = arena;
    private MemorySegment translationUnit;

    private final List<Header.Function> functions = new ArrayList<>();
    private final List<Header.Constant> constants = new ArrayList<>();
    private final Map<String, Header.Struct> structs = new LinkedHashMap<>();
    private final List<Header.Alias> aliases = new ArrayList<>();

    public static Header parse(Path header, List<String> clangArgs) {
        HeaderParser parser = new HeaderParser();
        try {
            return parser.run(header, clangArgs);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("libclang call failed", t);
        } finally {
            parser.arena.close();
        }
    }

    private Header run(Path header, List<String> clangArgs) throws Throwable {
        disableCrashRecovery();
        MemorySegment index = (MemorySegment) createIndex.invoke(0, 0);
        try {
            List<String> args = new ArrayList<>(List.of("-x", "c", "-std=c99"));
            args.addAll(clangArgs);
            MemorySegment argv = arena.allocate(ValueLayout.ADDRESS, args.size());
            for (int i = 0; i < args.size(); i++) argv.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(args.get(i)));
            translationUnit = (MemorySegment) parseTranslationUnit.invoke(index, arena.allocateFrom(header.toString()), argv,
                    args.size(), MemorySegment.NULL, 0, PARSE_DETAILED_PREPROCESSING_RECORD | PARSE_SKIP_FUNCTION_BODIES);
            if (translationUnit.equals(MemorySegment.NULL)) throw new IllegalArgumentException("libclang could not parse " + header);
            try {
                checkDiagnostics(header);
                MemorySegment root = (MemorySegment) getTranslationUnitCursor.invoke(allocator, translationUnit);
                for (MemorySegment cursor : children(root)) {
                    if (fromMainFile(cursor)) declaration(cursor);
                }
                return new Header(List.copyOf(functions), List.copyOf(constants), List.copyOf(structs.values()), List.copyOf(aliases));
            } finally {
                disposeTranslationUnit.invoke(translationUnit);
            }
        } finally {
            disposeIndex.invoke(index);
        }
    }

    private void checkDiagnostics(Path header) throws Throwable {
        int count = (int) getNumDiagnostics.invoke(translationUnit);
        StringBuilder errors = new StringBuilder();
        for (int i = 0; i < count; i++) {
            MemorySegment diagnostic = (MemorySegment) getDiagnostic.invoke(translationUnit, i);
            int severity = (int) getDiagnosticSeverity.invoke(diagnostic);
            if (severity >= 3) errors.append("\n  ").append(string((MemorySegment) formatDiagnostic.invoke(allocator, diagnostic, 0x1 | 0x2)));
            disposeDiagnostic.invoke(diagnostic);
        }
        if (!errors.isEmpty()) throw new IllegalArgumentException("the C parser rejected " + header + ":" + errors);
    }

    private void declaration(MemorySegment cursor) throws Throwable {
        int kind = (int) getCursorKind.invoke(cursor);
        switch (kind) {
            case CURSOR_FUNCTION_DECL -> function(cursor);
            case CURSOR_ENUM_DECL -> enumeration(cursor);
            case CURSOR_STRUCT_DECL -> struct(cursor, spelling(cursor));
            case CURSOR_TYPEDEF_DECL -> typedef(cursor);
            case CURSOR_MACRO_DEFINITION -> macro(cursor);
            case CURSOR_UNION_DECL -> throw unmappable(cursor, "unions are not supported");
            case CURSOR_VAR_DECL -> throw unmappable(cursor, "global variables are not supported");
            default -> {
                // Inclusion directives and macro expansions carry no declaration of their own.
                if (kind != 503 && kind != 502) throw unmappable(cursor, "unsupported declaration kind " + kind);
            }
        }
    }

    private void function(MemorySegment cursor) throws Throwable {
        String name = spelling(cursor);
        MemorySegment type = (MemorySegment) getCursorType.invoke(allocator, cursor);
        int typeKind = type.get(ValueLayout.JAVA_INT, 0);
        if (typeKind == TYPE_FUNCTION_NO_PROTO) throw unmappable(cursor, "a declaration without a prototype: write (void)");
        if ((int) isFunctionTypeVariadic.invoke(type) != 0) throw unmappable(cursor, "variadic functions are not supported");
        MemorySegment result = (MemorySegment) getResultType.invoke(allocator, type);
        CType returnType = map(result, cursor, "return type");
        if (returnType.kind() == CType.Kind.STRUCT || returnType.kind() == CType.Kind.ARRAY)
            throw unmappable(cursor, "returning a struct by value is not supported");
        int count = (int) cursorGetNumArguments.invoke(cursor);
        List<Header.Parameter> parameters = new ArrayList<>();
        StringBuilder signature = new StringBuilder(typeSpelling(result)).append(' ').append(name).append('(');
        for (int i = 0; i < count; i++) {
            MemorySegment argument = (MemorySegment) cursorGetArgument.invoke(allocator, cursor, i);
            MemorySegment argumentType = (MemorySegment) getCursorType.invoke(allocator, argument);
            String parameterName = spelling(argument);
            if (parameterName.isEmpty()) parameterName = "x" + i;
            if (JAVA_KEYWORDS.contains(parameterName)) parameterName = parameterName + "_";
            CType mapped = map(argumentType, cursor, "parameter '" + parameterName + "'");
            if (mapped.kind() == CType.Kind.VOID) throw unmappable(cursor, "parameter '" + parameterName + "' has type void");
            parameters.add(new Header.Parameter(parameterName, mapped));
            if (i > 0) signature.append(", ");
            String typeText = typeSpelling(argumentType);
            signature.append(typeText).append(typeText.endsWith("*") ? "" : " ").append(spelling(argument));
        }
        signature.append(count == 0 ? "void)" : ")");
        functions.add(new Header.Function(name, returnType, List.copyOf(parameters), signature.toString()));
    }

    private void enumeration(MemorySegment cursor) throws Throwable {
        for (MemorySegment child : children(cursor)) {
            if ((int) getCursorKind.invoke(child) != CURSOR_ENUM_CONSTANT_DECL) continue;
            long value = (long) getEnumConstantDeclValue.invoke(child);
            constants.add(new Header.Constant(spelling(child), value, value != (int) value));
        }
    }

    private void struct(MemorySegment cursor, String name) throws Throwable {
        MemorySegment type = (MemorySegment) getCursorType.invoke(allocator, cursor);
        long size = (long) typeGetSizeOf.invoke(type);
        if (size < 0) return;  // an opaque (incomplete) struct: only ever a pointer, so no class
        if (name.isEmpty() || name.contains("(unnamed") || name.contains("(anonymous")) return;  // named by its typedef
        if (structs.containsKey(name)) return;
        long alignment = (long) typeGetAlignOf.invoke(type);
        List<Header.Field> fields = new ArrayList<>();
        for (MemorySegment child : children(cursor)) {
            int kind = (int) getCursorKind.invoke(child);
            if (kind == CURSOR_STRUCT_DECL || kind == CURSOR_UNION_DECL || kind == CURSOR_ENUM_DECL)
                throw unmappable(child, "nested type declarations inside struct " + name + " are not supported");
            if (kind != CURSOR_FIELD_DECL) continue;
            String field = spelling(child);
            if ((int) cursorIsBitField.invoke(child) != 0) throw unmappable(child, "bit-field " + name + "." + field + " is not supported");
            MemorySegment fieldType = (MemorySegment) getCursorType.invoke(allocator, child);
            CType mapped = map(fieldType, child, "field '" + field + "'");
            if (mapped.kind() == CType.Kind.STRUCT) throw unmappable(child, "struct-typed field " + name + "." + field + " is not supported");
            if (mapped.kind() == CType.Kind.ARRAY && !mapped.element().isPrimitive())
                throw unmappable(child, "array field " + name + "." + field + " must have a primitive element type");
            long offsetBits = (long) cursorGetOffsetOfField.invoke(child);
            long fieldSize = (long) typeGetSizeOf.invoke(fieldType);
            fields.add(new Header.Field(field, mapped, offsetBits / 8, fieldSize));
        }
        structs.put(name, new Header.Struct(name, List.copyOf(fields), size, alignment));
    }

    private void typedef(MemorySegment cursor) throws Throwable {
        String name = spelling(cursor);
        MemorySegment underlying = (MemorySegment) getTypedefDeclUnderlyingType.invoke(allocator, cursor);
        MemorySegment canonical = (MemorySegment) getCanonicalType.invoke(allocator, underlying);
        int kind = canonical.get(ValueLayout.JAVA_INT, 0);
        if (kind == TYPE_RECORD) {
            MemorySegment declaration = (MemorySegment) getTypeDeclaration.invoke(allocator, canonical);
            if ((int) getCursorKind.invoke(declaration) == CURSOR_UNION_DECL) throw unmappable(cursor, "unions are not supported");
            String tag = spelling(declaration);
            if (tag.equals(name) || tag.isEmpty() || tag.contains("(unnamed") || tag.contains("(anonymous")) {
                struct(declaration, name);
                return;
            }
            if ((long) typeGetSizeOf.invoke(canonical) < 0) return;  // an opaque handle under another name
            throw unmappable(cursor, "typedef " + name + " names struct " + tag + ": use the same name for both");
        }
        if (kind == TYPE_ENUM) return;  // its constants are emitted with the enum; values are plain int
        if (kind == TYPE_POINTER) {
            MemorySegment pointee = (MemorySegment) getCanonicalType.invoke(allocator, (MemorySegment) getPointeeType.invoke(allocator, canonical));
            int pointeeKind = pointee.get(ValueLayout.JAVA_INT, 0);
            if (pointeeKind == TYPE_FUNCTION_PROTO || pointeeKind == TYPE_FUNCTION_NO_PROTO)
                throw unmappable(cursor, "function pointer typedefs are not supported: pass callbacks as void *");
        }
        CType mapped = map(underlying, cursor, "typedef");
        if (!mapped.isPrimitive()) throw unmappable(cursor, "typedef of " + typeSpelling(underlying) + " is not supported");
        aliases.add(new Header.Alias(name, mapped));
    }

    private void macro(MemorySegment cursor) throws Throwable {
        String name = spelling(cursor);
        if ((int) cursorIsMacroFunctionLike.invoke(cursor) != 0) throw unmappable(cursor, "function-like macros are not supported");
        List<String> tokens = tokens(cursor);
        List<String> body = tokens.subList(Math.min(1, tokens.size()), tokens.size());
        if (body.isEmpty()) return;  // a flag such as an include guard: nothing to map
        Long value = integerLiteral(body);
        if (value == null) throw unmappable(cursor, "macro value '" + String.join(" ", body) + "' is not an integer literal");
        constants.add(new Header.Constant(name, value, value != value.intValue()));
    }

    /** An integer literal, optionally negated and parenthesised, with C suffixes. Null if it is not one. */
    static Long integerLiteral(List<String> tokens) {
        List<String> t = tokens;
        while (t.size() >= 3 && t.getFirst().equals("(") && t.getLast().equals(")")) t = t.subList(1, t.size() - 1);
        boolean negative = false;
        if (t.size() == 2 && t.getFirst().equals("-")) {
            negative = true;
            t = t.subList(1, 2);
        }
        if (t.size() != 1) return null;
        String literal = t.getFirst().replaceAll("[uUlL]+$", "");
        try {
            long value = literal.startsWith("0x") || literal.startsWith("0X") ? Long.parseUnsignedLong(literal.substring(2), 16)
                    : literal.length() > 1 && literal.startsWith("0") ? Long.parseLong(literal.substring(1), 8)
                    : Long.parseLong(literal);
            return negative ? -value : value;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private CType map(MemorySegment type, MemorySegment cursor, String what) throws Throwable {
        MemorySegment canonical = (MemorySegment) getCanonicalType.invoke(allocator, type);
        int kind = canonical.get(ValueLayout.JAVA_INT, 0);
        return switch (kind) {
            case TYPE_VOID -> CType.of(CType.Kind.VOID);
            case TYPE_BOOL -> CType.of(CType.Kind.BOOL);
            case TYPE_CHAR_U, TYPE_UCHAR, TYPE_CHAR_S, TYPE_SCHAR -> CType.of(CType.Kind.CHAR);
            case TYPE_SHORT, TYPE_USHORT -> CType.of(CType.Kind.SHORT);
            case TYPE_INT, TYPE_UINT, TYPE_ENUM -> CType.of(CType.Kind.INT);
            case TYPE_LONG, TYPE_ULONG -> CType.of(CType.Kind.LONG);
            case TYPE_LONGLONG, TYPE_ULONGLONG -> CType.of(CType.Kind.LONG_LONG);
            case TYPE_FLOAT -> CType.of(CType.Kind.FLOAT);
            case TYPE_DOUBLE -> CType.of(CType.Kind.DOUBLE);
            case TYPE_POINTER -> CType.of(CType.Kind.POINTER);
            case TYPE_RECORD -> {
                MemorySegment declaration = (MemorySegment) getTypeDeclaration.invoke(allocator, canonical);
                if ((int) getCursorKind.invoke(declaration) == CURSOR_UNION_DECL) throw unmappable(cursor, what + ": unions are not supported");
                String tag = spelling(declaration);
                if (tag.isEmpty() || tag.contains("(unnamed") || tag.contains("(anonymous")) tag = typeSpelling(type);
                yield CType.struct(tag);
            }
            case TYPE_CONSTANT_ARRAY -> {
                CType element = map((MemorySegment) getArrayElementType.invoke(allocator, canonical), cursor, what);
                yield CType.array(element, (long) getArraySize.invoke(canonical));
            }
            default -> throw unmappable(cursor, what + " has unsupported type '" + typeSpelling(type) + "'");
        };
    }

    private List<MemorySegment> children(MemorySegment parent) throws Throwable {
        List<MemorySegment> found = new ArrayList<>();
        try (Arena callArena = Arena.ofConfined()) {
            MemorySegment visitor = visitor(callArena, (cursor, ignoredParent) -> {
                found.add(arena.allocate(CURSOR).copyFrom(cursor));
                return VISIT_CONTINUE;
            });
            visitChildren.invoke(parent, visitor, MemorySegment.NULL);
        }
        return found;
    }

    private List<String> tokens(MemorySegment cursor) throws Throwable {
        MemorySegment range = (MemorySegment) getCursorExtent.invoke(allocator, cursor);
        MemorySegment tokensOut = arena.allocate(ValueLayout.ADDRESS);
        MemorySegment countOut = arena.allocate(ValueLayout.JAVA_INT);
        tokenize.invoke(translationUnit, range, tokensOut, countOut);
        int count = countOut.get(ValueLayout.JAVA_INT, 0);
        MemorySegment tokens = tokensOut.get(ValueLayout.ADDRESS, 0).reinterpret(TOKEN.byteSize() * count);
        List<String> text = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            text.add(string((MemorySegment) getTokenSpelling.invoke(allocator, translationUnit, tokens.asSlice(i * TOKEN.byteSize(), TOKEN))));
        }
        disposeTokens.invoke(translationUnit, tokensOut.get(ValueLayout.ADDRESS, 0), count);
        return text;
    }

    private boolean fromMainFile(MemorySegment cursor) throws Throwable {
        MemorySegment location = (MemorySegment) getCursorLocation.invoke(allocator, cursor);
        return (int) locationIsFromMainFile.invoke(location) != 0;
    }

    private String where(MemorySegment cursor) throws Throwable {
        MemorySegment location = (MemorySegment) getCursorLocation.invoke(allocator, cursor);
        MemorySegment file = arena.allocate(STRING);
        MemorySegment line = arena.allocate(ValueLayout.JAVA_INT);
        MemorySegment column = arena.allocate(ValueLayout.JAVA_INT);
        getPresumedLocation.invoke(location, file, line, column);
        return string(file) + ":" + line.get(ValueLayout.JAVA_INT, 0);
    }

    private UnmappableDeclarationException unmappable(MemorySegment cursor, String reason) throws Throwable {
        return new UnmappableDeclarationException(where(cursor), spelling(cursor), reason);
    }

    private String spelling(MemorySegment cursor) throws Throwable {
        return string((MemorySegment) getCursorSpelling.invoke(allocator, cursor));
    }

    private String typeSpelling(MemorySegment type) throws Throwable {
        return string((MemorySegment) getTypeSpelling.invoke(allocator, type));
    }

    private HeaderParser() {}
}
