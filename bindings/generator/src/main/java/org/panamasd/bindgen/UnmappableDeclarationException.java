package org.panamasd.bindgen;

/** A declaration of the header that the generator cannot map; it is never skipped silently. */
public final class UnmappableDeclarationException extends RuntimeException {
    public UnmappableDeclarationException(String where, String declaration, String reason) {
        super(where + ": cannot map '" + declaration + "': " + reason);
    }
}
