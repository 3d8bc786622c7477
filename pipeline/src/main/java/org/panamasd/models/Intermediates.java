package org.panamasd.models;

import java.util.Map;
import org.panamasd.nn.Chain;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * Named intermediates a model records for parity tests (block outputs, embeddings). What is recorded is a
 * second handle to the tensor ({@link Tensor#share()}), owned by the scope that was current when recording
 * was switched on: the model frees its own handle when it is done with it (see {@link Scope#returning} and
 * {@link org.panamasd.Chain}), and the recorded one keeps the values until that scope closes.
 */
public final class Intermediates {
    private final Map<String, Tensor> sink;
    private final Scope owner;

    private Intermediates(Map<String, Tensor> sink, Scope owner) {
        this.sink = sink;
        this.owner = owner;
    }

    /** Records into {@code sink}, owned by the calling thread's current scope; null (recording off) for a null sink. */
    public static Intermediates into(Map<String, Tensor> sink) {
        return sink == null ? null : new Intermediates(sink, Scope.current());
    }

    /** Records {@code value} under {@code name} when {@code record} is on; returns the value either way. */
    public static Tensor put(Intermediates record, String name, Tensor value) {
        if (record != null) record.sink.put(name, value.share().moveTo(record.owner));
        return value;
    }
}
