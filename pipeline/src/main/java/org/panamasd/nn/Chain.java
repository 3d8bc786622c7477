package org.panamasd.nn;

import java.util.function.UnaryOperator;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * A value transformed stage by stage, where each stage's output replaces the previous one and the replaced
 * one is freed at once: a loop over blocks holds one block's input and output, not every output so far.
 * Each stage runs in a scope of its own ({@link Scope#returning}), so its temporaries die with it too.
 *
 * <p>Only tensors the chain made are freed: the input it started from belongs to the caller, and an output
 * moved to another scope meanwhile (recorded for a test, say) is left to that scope.
 *
 * {@snippet :
 * Chain x = Chain.from(latents);                      // borrowed: never freed here
 * x.then(convIn::forward);
 * for (ResnetBlock2D block : blocks) x.then(t -> block.forward(t, null));
 * return x.get();                                     // owned by the calling scope
 * }
 */
public final class Chain {
    private final Scope owner;
    private final Tensor start;
    private Tensor value;

    private Chain(Tensor start) {
        this.owner = Scope.current();
        this.start = start;
        this.value = start;
    }

    /** Starts at {@code start}, which stays the caller's. Outputs belong to the calling thread's current scope. */
    public static Chain from(Tensor start) {
        return new Chain(start);
    }

    /** Replaces the value by {@code stage(value)}; the old value is freed if the chain made it. */
    public Chain then(UnaryOperator<Tensor> stage) {
        Tensor previous = value;
        Tensor next = Scope.returning(() -> stage.apply(previous));
        boolean made = previous != start && previous.scope() == owner;  // not the caller's input, not moved elsewhere
        if (made && next != previous && Scope.current() == owner) previous.close();
        value = next;
        return this;
    }

    /** The current value, owned by the scope the chain was made in (or still the caller's input). */
    public Tensor get() {
        return value;
    }
}
