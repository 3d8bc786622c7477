package org.panamasd;

import java.util.ArrayList;
import java.util.List;
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
    /** The thread that alone may use this scope, or null for a detached scope (any thread, synchronised). */
    final Thread confinedTo;
    private Tensor head;
    private long count;
    private volatile boolean closed;
    private final boolean detached;

    private Scope(Scope parent, Thread owner, boolean detached) {
        this.parent = parent;
        this.owner = owner;
        this.detached = detached;
        this.confinedTo = detached ? null : owner;
    }

    /** Opens a scope nested in this thread's current one and makes it current. */
    public static Scope open() {
        Native.ensureLoaded();
        ThreadState.Stack stack = ThreadState.get().stack;
        Scope scope = new Scope((Scope) stack.scope, Thread.currentThread(), false);
        stack.scope = scope;
        return scope;
    }

    /**
     * A scope that is not pushed on any thread's scope stack: ops never register in it, but tensors can be
     * moved into it with {@link Tensor#moveTo(Scope)}. It holds state that outlives any step, such as model
     * weights or a multistep scheduler's history, until it is closed. Unlike stack scopes it is not confined:
     * any thread may compute with its tensors, move tensors in or close it (its bookkeeping is synchronised,
     * and a tensor in use by a native call when the scope closes is freed when that call returns). If it
     * becomes unreachable unclosed, its tensors are freed and reported (see {@link MemoryStats#reclaimedTensors()}).
     */
    public static Scope detached() {
        Native.ensureLoaded();
        return new Scope(null, Thread.currentThread(), true);
    }

    /**
     * Runs {@code body} in a scope of its own and moves only its result out to the calling scope: every
     * temporary the body made is freed when it returns (or throws). Model code runs each module's forward
     * this way, so a forward pass holds the temporaries of the modules now running, not of every module so
     * far. Autograd is unaffected: a graph keeps what its backward needs inside libtorch, not through Java
     * handles. A result the body did not make (it returned its input, say) stays where it is.
     *
     * {@snippet :
     * Tensor h = Scope.returning(() -> conv.forward(norm.forward(x).silu()));  // the norm's output dies here
     * }
     */
    public static Tensor returning(java.util.function.Supplier<Tensor> body) {
        current();  // the result moves to the caller's scope: without one, say so before the body runs
        Scope inner = open();
        try (inner) {
            Tensor result = body.get();
            if (result != null && result.scope == inner) result.moveTo(inner.parent);
            return result;
        }
    }

    /** The innermost open scope of this thread. */
    public static Scope current() {
        Scope scope = (Scope) ThreadState.get().stack.scope;
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

    public boolean isDetached() {
        return detached;
    }

    /** Live tensors owned by this scope. */
    public long liveTensors() {
        if (detached) {
            synchronized (this) {
                return count;
            }
        }
        return count;
    }

    /** Storage bytes of the tensors this scope owns (shared storage counted once per tensor). */
    public long bytes() {
        if (detached) {
            synchronized (this) {
                return bytesUnchecked();
            }
        }
        return bytesUnchecked();
    }

    private long bytesUnchecked() {
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
        // a detached scope's tensors may be dropped unclosed with it: let the GC find them
        if (detached && tensor.guard == null) tensor.guard = Reclaim.guard(tensor);
        tensor.scope = this;
        tensor.prev = null;
        tensor.next = head;
        if (head != null) head.prev = tensor;
        head = tensor;
        count++;
    }

    /**
     * Takes {@code tensor} out of this scope. False when it is no longer here: another thread closed or
     * moved it first (so two racing closes unlink it once).
     */
    boolean remove(Tensor tensor) {
        if (detached) {
            synchronized (this) {
                return removeUnchecked(tensor);
            }
        }
        checkThread();
        return removeUnchecked(tensor);
    }

    private boolean removeUnchecked(Tensor tensor) {
        if (tensor.scope != this) return false;
        if (tensor.prev != null) tensor.prev.next = tensor.next;
        else head = tensor.next;
        if (tensor.next != null) tensor.next.prev = tensor.prev;
        tensor.prev = tensor.next = null;
        tensor.scope = null;
        count--;
        return true;
    }

    void checkUsable() {
        if (closed) throw new IllegalStateException("scope is closed");
        checkThread();
    }

    private void checkThread() {
        if (confinedTo != null && Thread.currentThread() != confinedTo)
            throw new WrongThreadException("scope belongs to thread " + owner.getName() + ", used from " + Thread.currentThread().getName());
    }

    /**
     * Frees every tensor of this scope, and first closes any scope still open inside it. If freeing one
     * fails, the others are still freed, the scope is closed and popped, and the first failure is thrown.
     */
    @Override
    public void close() {
        if (detached) {
            synchronized (this) {
                closeUnchecked();
            }
            BlobKeeper.drainIfAny();  // weights unloaded: mapped files can go
        } else {
            closeUnchecked();
        }
    }

    private void closeUnchecked() {
        if (closed) return;
        checkUsable();
        RuntimeException failure = null;
        ThreadState.Stack stack = detached ? null : ThreadState.get().stack;
        while (stack != null && stack.scope != this && stack.scope != null) {
            try {
                ((Scope) stack.scope).close();
            } catch (RuntimeException e) {
                failure = first(failure, e);
            }
        }
        failure = first(failure, freeAll());
        if (stack != null) stack.scope = parent;
        if (failure != null) throw failure;
    }

    private static RuntimeException first(RuntimeException failure, RuntimeException next) {
        if (failure == null) return next;
        if (next != null && next != failure) failure.addSuppressed(next);
        return failure;
    }

    /** Releases every tensor and marks the scope closed; returns the first failure, with the others suppressed. */
    private RuntimeException freeAll() {
        ScopeClosedEvent event = new ScopeClosedEvent();
        if (event.shouldCommit()) {
            event.tensors = count;
            event.bytes = bytesUnchecked();
        }
        RuntimeException failure = null;
        closed = true;
        for (Tensor t = head; t != null; ) {
            Tensor next = t.next;
            t.prev = t.next = null;
            t.scope = null;
            try {
                t.release();
            } catch (RuntimeException e) {
                failure = first(failure, e);
            }
            t = next;
        }
        head = null;
        count = 0;
        if (event.shouldCommit()) event.commit();
        return failure;
    }

    /**
     * Closes this scope and the ones enclosing it for a thread that ended with them open (no thread check:
     * the owner is gone). Returns the tensors freed and where they were made, for the report.
     */
    static List<String> reclaimAbandoned(Scope innermost) {
        List<String> freed = new ArrayList<>();
        for (Scope s = innermost; s != null; s = s.parent) {
            if (s.closed) continue;
            for (Tensor t = s.head; t != null; t = t.next) freed.add(Reclaim.site(t.allocationSite));
            RuntimeException failure = s.freeAll();
            if (failure != null) freed.add("(one could not be freed: " + failure.getMessage() + ")");
        }
        return freed;
    }

    @Override
    public String toString() {
        return "Scope[" + (closed ? "closed" : count + " tensors") + "]";
    }
}
