package org.panamasd.service;

/** A request the service refuses (HTTP 400), naming the field at fault. */
public final class BadRequest extends RuntimeException {
    private final String field;

    public BadRequest(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
