package org.panamasd;

/**
 * A tensor's memory handed to a method that writes over it: the in-place protocol of the memory model
 * (docs/memory-model.md) in a type. Made only by {@link Tensor#giveUp()}, which closes the handle it was called
 * on, so a caller cannot hand over a tensor and go on reading it: any later use of that handle throws. The
 * method that takes this parameter owns the memory from then on ({@link #take()}, once): it writes over it,
 * returns it (or a view of it) as its result, or frees it when it is dead.
 */
public final class Overwritable {
    private Tensor memory;

    Overwritable(Tensor memory) {
        this.memory = memory;
    }

    /** The memory to write over, now the taker's; a second take throws (one method writes over it). */
    public Tensor take() {
        Tensor t = memory;
        if (t == null) throw new IllegalStateException("this overwritable tensor was taken already: only one method may write over it");
        memory = null;
        return t;
    }

    /** Whether {@link #take()} was called. */
    public boolean taken() {
        return memory == null;
    }
}
