package org.panamasd.schedulers;

import java.util.ArrayDeque;
import java.util.Iterator;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * The last few tensors a multistep scheduler keeps between steps (model outputs, derivatives), owned by a
 * detached scope of its own so they outlive each step's scope; the oldest is freed when a new one pushes it
 * past the capacity, and all of them on {@link #clear()}.
 */
final class TensorHistory implements AutoCloseable {
    private final int capacity;
    private final ArrayDeque<Tensor> items = new ArrayDeque<>();
    private Scope scope;

    TensorHistory(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("history capacity must be at least 1, got " + capacity);
        this.capacity = capacity;
    }

    /** Keeps a new reference to {@code t} (the caller's tensor stays in its own scope). */
    void add(Tensor t) {
        if (scope == null) scope = Scope.detached();
        items.addLast(t.share().moveTo(scope));
        while (items.size() > capacity) items.removeFirst().close();
    }

    int capacity() {
        return capacity;
    }

    int size() {
        return items.size();
    }

    /** {@code back} = 0 is the newest. */
    Tensor fromNewest(int back) {
        if (back < 0 || back >= items.size()) throw new IndexOutOfBoundsException("history holds " + items.size() + ", asked " + back + " back");
        Iterator<Tensor> it = items.descendingIterator();
        for (int i = 0; i < back; i++) it.next();
        return it.next();
    }

    void clear() {
        items.clear();
        if (scope != null) scope.close();
        scope = null;
    }

    @Override
    public void close() {
        clear();
    }
}
