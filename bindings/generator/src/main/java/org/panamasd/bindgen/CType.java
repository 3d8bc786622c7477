package org.panamasd.bindgen;

/**
 * A C type the generator can map, reduced to what the Java side needs: the jextract layout constant
 * (C_INT, C_POINTER, ...) and the Java carrier type. A struct passed by value carries its name.
 */
record CType(Kind kind, String structName, long arrayLength, CType element) {

    enum Kind {
        VOID("", "void"),
        BOOL("C_BOOL", "boolean"),
        CHAR("C_CHAR", "byte"),
        SHORT("C_SHORT", "short"),
        INT("C_INT", "int"),
        LONG("C_LONG", "long"),
        LONG_LONG("C_LONG_LONG", "long"),
        FLOAT("C_FLOAT", "float"),
        DOUBLE("C_DOUBLE", "double"),
        POINTER("C_POINTER", "MemorySegment"),
        STRUCT("", "MemorySegment"),
        ARRAY("", "MemorySegment");

        final String layout;
        final String carrier;

        Kind(String layout, String carrier) {
            this.layout = layout;
            this.carrier = carrier;
        }
    }

    static CType of(Kind kind) {
        return new CType(kind, null, 0, null);
    }

    static CType struct(String name) {
        return new CType(Kind.STRUCT, name, 0, null);
    }

    static CType array(CType element, long length) {
        return new CType(Kind.ARRAY, null, length, element);
    }

    String carrier() {
        return kind.carrier;
    }

    /** The Java expression of this type's layout, qualified by the header class. */
    String layoutExpression(String headerClass) {
        return switch (kind) {
            case STRUCT -> structName + ".layout()";
            case ARRAY -> "MemoryLayout.sequenceLayout(" + arrayLength + ", " + element.layoutExpression(headerClass) + ")";
            case VOID -> throw new IllegalStateException("void has no layout");
            default -> headerClass + "." + kind.layout;
        };
    }

    /** The ValueLayout subtype of a primitive layout constant (OfInt, AddressLayout, ...). */
    String layoutClass() {
        return switch (kind) {
            case BOOL -> "OfBoolean";
            case CHAR -> "OfByte";
            case SHORT -> "OfShort";
            case INT -> "OfInt";
            case LONG, LONG_LONG -> "OfLong";
            case FLOAT -> "OfFloat";
            case DOUBLE -> "OfDouble";
            case POINTER -> "AddressLayout";
            case STRUCT -> "GroupLayout";
            case ARRAY -> "SequenceLayout";
            case VOID -> throw new IllegalStateException("void has no layout");
        };
    }

    boolean isPrimitive() {
        return kind != Kind.STRUCT && kind != Kind.ARRAY && kind != Kind.VOID;
    }
}
