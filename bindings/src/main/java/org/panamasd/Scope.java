package org.panamasd;

import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;
import org.panamasd.jfr.ScopeClosedEvent;

/**
 * Owns native tensors, in the style of {@link java.lang.foreign.Arena}: closing a scope frees every
 * tensor made in it, deterministically and without the GC.
 *
 * <p>Scopes nest per thread. Every op registers its result in the innermost open scope of the calling
 * thread, so pipeline code can chain {@code x.add(y).mul(2f)} and the intermediate is freed with the
 * scope. A result that must outlive the scope moves out with {@link Tensor#moveTo(Scope)} or
 * {@link Tensor#moveToParent()}. A scope is confined to the thread that opened it.
 *
 * {@snippet :
 * try (Scope step = Scope.open()) {
 *     Tensor x = Tensor.randn(generator, 1, 4, 64, 64);
 *     Tensor y = x.mul(2f).add(1f);      // the temporary x.mul(2f) is freed with the scope
 *     latents = y.moveToParent();        // survives this step
 * }
 * }
 */
public final class Scope implements AutoCloseable {
    private final Scope parent;
    private final Thread owner;
    private Tensor head;
    private long count;
    private boolean closed;
    private boolean detached;

    private Scope(Scope parent, Thread owner) {
        this.parent = parent;
        this.owner = owner;
    }

    /** Opens a scope nested in this thread's current one and makes it current. */
    public static Scope open() {
        Native.ensureLoaded();
        ThreadState state = ThreadState.get();
        Scope scope = new Scope((Scope) state.scope, Thread.currentThread());
        state.scope = scope;
        return scope;
    }

    /**
     * A scope that is not pushed on any thread's scope stack: ops never register in it, but tensors can be
     * moved into it with {@link Tensor#moveTo(Scope)}. It holds state that outlives any step, such as model
     * weights or a multistep scheduler's history, until it is closed. Unlike stack scopes it is not confined:
     * any thread may move tensors in or close it (its bookkeeping is synchronised).
     */
    public static Scope detached() {
        Native.ensureLoaded();
        Scope scope = new Scope(null, Thread.currentThread());
        scope.detached = true;
        return scope;
    }

    /** The innermost open scope of this thread. */
    public static Scope current() {
        Scope scope = (Scope) ThreadState.get().scope;
        if (scope == null) throw noScope();
        return scope;
    }

    static IllegalStateException noScope() {
        return new IllegalStateException("no open Scope on thread " + Thread.currentThread().getName()
                + ": wrap tensor code in try (Scope scope = Scope.open()) { ... }");
    }

    public Scope parent() {
        return parent;
    }

    public boolean isOpen() {
        return !closed;
    }

    /** Live tensors owned by this scope. */
    public long liveTensors() {
        return count;
    }

    /** Storage bytes of the tensors this scope owns (shared storage counted once per tensor). */
    public long bytes() {
        long total = 0;
        for (Tensor t = head; t != null; t = t.next) total += t.storageBytes();
        return total;
    }

    void link(Tensor tensor) {
        if (detached) {
            synchronized (this) {
                linkUnchecked(tensor);
            }
        } else {
            linkUnchecked(tensor);
        }
    }

    private void linkUnchecked(Tensor tensor) {
        checkUsable();
        tensor.scope = this;
        tensor.prev = null;
        tensor.next = head;
        if (head != null) head.prev = tensor;
        head = tensor;
        count++;
    }

    void unlink(Tensor tensor) {
        if (detached) {
            synchronized (this) {
                unlinkUnchecked(tensor);
            }
        } else {
            unlinkUnchecked(tensor);
        }
    }

    private void unlinkUnchecked(Tensor tensor) {
        if (tensor.prev != null) tensor.prev.next = tensor.next;
        else head = tensor.next;
        if (tensor.next != null) tensor.next.prev = tensor.prev;
        tensor.prev = tensor.next = null;
        tensor.scope = null;
        count--;
    }

    void checkUsable() {
        if (closed) throw new IllegalStateException("scope is closed");
        if (!detached && Thread.currentThread() != owner)
            throw new WrongThreadException("scope belongs to thread " + owner.getName() + ", used from " + Thread.currentThread().getName());
    }

    /** Frees every tensor of this scope, and first closes any scope still open inside it. */
    @Override
    public void close() {
        if (detached) {
            synchronized (this) {
                closeUnchecked();
            }
        } else {
            closeUnchecked();
        }
    }

    private void closeUnchecked() {
        if (closed) return;
        checkUsable();
        ThreadState state = ThreadState.get();
        while (!detached && state.scope != this && state.scope != null) ((Scope) state.scope).close();
        ScopeClosedEvent event = new ScopeClosedEvent();
        if (event.shouldCommit()) {
            event.tensors = count;
            event.bytes = bytes();
        }
        for (Tensor t = head; t != null; ) {
            Tensor next = t.next;
            t.prev = t.next = null;
            t.scope = null;
            t.release();
            t = next;
        }
        head = null;
        count = 0;
        closed = true;
        if (!detached) state.scope = parent;
        if (event.shouldCommit()) event.commit();
    }

    @Override
    public String toString() {
        return "Scope[" + (closed ? "closed" : count + " tensors") + "]";
    }
}
