package org.panamasd.bindgen;

import java.util.List;

/** Everything of one header that becomes Java: the declarations in source order, by kind. */
record Header(List<Function> functions, List<Constant> constants, List<Struct> structs, List<Alias> aliases) {

    /** A C function. The C signature text is repeated in the Javadoc. */
    record Function(String name, CType returnType, List<Parameter> parameters, String signature) {}

    record Parameter(String name, CType type) {}

    /** An enum constant or an integer #define: a static getter. */
    record Constant(String name, long value, boolean isLong) {}

    /** A struct with its fields at clang's offsets; size and alignment as clang computed them. */
    record Struct(String name, List<Field> fields, long size, long alignment) {}

    record Field(String name, CType type, long offset, long size) {}

    /** A typedef of a primitive type: a layout constant in the header class. */
    record Alias(String name, CType type) {}
}
