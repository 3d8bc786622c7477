package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;
import org.panamasd.jfr.TensorAllocationEvent;

/**
 * A libtorch tensor behind a native handle, owned by a {@link Scope}.
 *
 * <p>Every op returns a new tensor registered in the calling thread's innermost open scope. Closing
 * the tensor (or its scope) frees the handle; using it afterwards throws {@link IllegalStateException}.
 * Data crosses without a copy both ways: {@link #fromSegment} wraps caller memory and {@link #data()}
 * exposes a contiguous CPU tensor's memory as a {@link MemorySegment}.
 */
public final class Tensor implements AutoCloseable, PointwiseOps, ActivationOps, ReductionOps, LinearAlgebraOps, ShapeOps {

    /** One native call that writes a new handle into {@code ret}. */
    @FunctionalInterface
    interface Call {
        int invoke(ThreadState scratch, MemorySegment ret);
    }

    private static final long CLOSED = 1L << 62;
    private static final VarHandle STATE;
    private static final VarHandle HANDLE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            STATE = lookup.findVarHandle(Tensor.class, "state", long.class);
            HANDLE = lookup.findVarHandle(Tensor.class, "handle", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        ThreadState.setUnpinner(pinned -> ((Tensor) pinned).unpin());
        Reclaim.install();
    }

    // the handle's address (0 once freed): a long, not a segment, so that adopting a result allocates only this object
    private long handle;
    // CLOSED once closed, plus the number of native calls in flight that pinned this tensor (calls from
    // threads other than its owning scope's, or on a detached scope's tensor). The handle is freed when
    // both the tensor is closed and no call is in flight: a racing close never frees memory under a call.
    private long state;
    private Arena dataArena;  // the lifetime of the segments data() returned; closed when the handle is freed
    private boolean dataClosed;
    Reclaim.Guard guard;      // set once the tensor was in a detached scope: frees it if it becomes unreachable
    Scope scope;
    Tensor prev, next;
    StackTraceElement[] allocationSite;
    String allocationModule;  // the module path running when it was made (tracking and module tracking on)

    private Tensor(long handle) {
        this.handle = handle;
    }

    // ------------------------------------------------------------------ plumbing

    static Tensor produce(String name, Call call) {
        ThreadState state = ThreadState.get().reset();
        MemorySegment ret = state.pointer();
        long start = OpHooks.active != 0 ? OpHooks.before(name) : 0;
        int status = call.invoke(state, ret);
        if (start != 0) OpTimes.record(name, start);
        if (status != 0) throw Native.failure(status, name);
        state.unpinAll();
        return adopt(state, ret.get(ValueLayout.JAVA_LONG, 0));
    }

    /**
     * Takes ownership of a new handle: registers it in the current scope. It may overwrite the scratch
     * buffer (the JFR event asks the tensor for its size): read every result out of scratch memory first.
     */
    static Tensor adopt(ThreadState state, MemorySegment handle) {
        return adopt(state, handle.address());
    }

    /** {@link #adopt(ThreadState, MemorySegment)} of a handle read as its address (0: none). */
    static Tensor adopt(ThreadState state, long handle) {
        if (handle == 0) return null;
        Scope owner = (Scope) state.stack.scope;
        if (owner == null) {
            psd_tensor_free(MemorySegment.ofAddress(handle));
            throw Scope.noScope();
        }
        Tensor tensor = new Tensor(handle);
        owner.link(tensor);
        if (MemoryStats.tracking) MemoryStats.track(tensor);
        if ((OpHooks.active & OpHooks.TAGS) != 0) AllocationRecording.noteTensor(tensor);
        TensorAllocationEvent event = new TensorAllocationEvent();
        if (event.shouldCommit()) {
            long bytes = tensor.storageBytes();
            if (bytes >= MemoryStats.allocationEventThreshold) {
                event.bytes = bytes;
                event.shape = Arrays.toString(tensor.shape());
                event.dtype = tensor.dtype().name();
                event.modulePath = ModulePath.current();
                event.commit();
            }
        }
        return tensor;
    }

    /** Adopts several handles that a call wrote to scratch memory, copying them out before the first adopt. */
    static Tensor[] adoptAll(ThreadState state, MemorySegment handles, int count) {
        MemorySegment[] copied = new MemorySegment[count];
        for (int i = 0; i < count; i++) copied[i] = handles.getAtIndex(ValueLayout.ADDRESS, i);
        Tensor[] result = new Tensor[count];
        try {
            for (int i = 0; i < count; i++) result[i] = adopt(state, copied[i]);
        } catch (RuntimeException e) {  // no owner: free what no tensor took
            for (int i = 0; i < count; i++) if (result[i] == null && !copied[i].equals(MemorySegment.NULL)) psd_tensor_free(copied[i]);
            throw e;
        }
        return result;
    }

    /**
     * The native handle; throws if the tensor was closed. Used from a thread that does not own the tensor's
     * scope (or on a detached scope's tensor), it pins the tensor until the native call ends.
     */
    public MemorySegment handle() {
        Scope s = scope;
        // only the owner thread can close or move a tensor of its own stack scope: no pin needed
        if (s != null && s.confinedTo == Thread.currentThread() && (state & CLOSED) == 0) return MemorySegment.ofAddress(handle);
        return pin();
    }

    private MemorySegment pin() {
        long st;
        do {
            st = (long) STATE.getVolatile(this);
            if ((st & CLOSED) != 0) throw closedException();
        } while (!STATE.weakCompareAndSet(this, st, st + 1));
        ThreadState.get().pin(this);
        // pinned and not closed, the handle cannot be freed; 0 here means a tensor handed to this thread without a
        // happens-before edge, and a NULL segment would reach the shim as an absent optional argument
        long h = (long) HANDLE.getAcquire(this);
        if (h == 0) throw closedException();
        return MemorySegment.ofAddress(h);
    }

    private void unpin() {
        if ((long) STATE.getAndAdd(this, -1L) - 1 == CLOSED) free();
    }

    /** The handle's address as it is (0 once freed), without a check or a pin (for the safety net's bookkeeping). */
    long rawHandle() {
        return handle;
    }

    static IllegalStateException closedException() {
        return new IllegalStateException("tensor is closed");
    }

    public boolean isOpen() {
        return ((long) STATE.getVolatile(this) & CLOSED) == 0;
    }

    /** Marks the tensor closed; frees it now, or when the last native call in flight on it ends. Idempotent. */
    void release() {
        long st;
        do {
            st = (long) STATE.getVolatile(this);
            if ((st & CLOSED) != 0) {
                if (st == CLOSED && handle != 0) free();  // a free that failed earlier: try again
                return;
            }
        } while (!STATE.weakCompareAndSet(this, st, st | CLOSED));
        if (st == 0) free();
    }

    private void free() {
        long h = (long) HANDLE.getAndSet(this, 0L);
        if (h == 0) return;  // another thread freed it
        Arena arena;
        synchronized (this) {
            arena = dataArena;
            dataArena = null;
            dataClosed = true;
        }
        // segments from data() die first, so none can reach the storage once it may be freed
        if (arena != null) {
            try {
                arena.close();
            } catch (IllegalStateException e) {  // a native call still uses a data() segment: keep the memory
                synchronized (this) {
                    dataArena = arena;
                    dataClosed = false;
                }
                HANDLE.setVolatile(this, h);
                throw new IllegalStateException("tensor not freed: its data() segment is in use by a native call ("
                        + e.getMessage() + "); close it again when that call has returned", e);
            }
        }
        if (MemoryStats.tracking) MemoryStats.untrack(this);
        if (guard != null) guard.free();
        else psd_tensor_free(MemorySegment.ofAddress(h));
    }

    /** Frees this tensor now, ahead of its scope (or when native calls of other threads on it end). Idempotent. */
    @Override
    public void close() {
        closeFrom(scope);
    }

    /**
     * Closes the tensor found in scope {@code s} (null: in none). It is freed only once its owner let it go: if
     * another thread moved it meanwhile (the removal fails), the close applies to its new owner, which may
     * refuse it (another thread's stack scope), instead of freeing a tensor that now belongs to someone else.
     */
    void closeFrom(Scope s) {
        while (s != null && !s.remove(this)) s = scope;
        release();
    }

    /**
     * Moves ownership to another open scope: an enclosing scope of this thread, or a detached one. Both the
     * current owner and the target must be usable from this thread.
     */
    public Tensor moveTo(Scope target) {
        if (!isOpen()) throw closedException();
        target.checkUsable();
        Scope s = scope;
        if (s != target) {
            if (s == null || !s.remove(this)) throw closedException();  // closed or moved by another thread meanwhile
            target.link(this);
            if (!isOpen()) {
                target.remove(this);
                throw closedException();
            }
        }
        return this;
    }

    /** Moves ownership to the scope enclosing the current owner, so the tensor outlives it. */
    public Tensor moveToParent() {
        if (!isOpen()) throw closedException();
        Scope parent = scope.parent();
        if (parent == null) throw new IllegalStateException("the owning scope has no enclosing scope");
        return moveTo(parent);
    }

    public Scope scope() {
        return scope;
    }

    /**
     * Gives this tensor's memory up to a method that writes over it ({@link Overwritable}): a new handle to the same
     * tensor ({@link #share()}), owned by this tensor's scope, goes into the result, and this handle is closed, so any later use of it
     * throws. The memory itself stays while a handle or a view refers to it.
     */
    public Overwritable giveUp() {
        if (!isOpen()) throw closedException();
        Scope owner = scope;
        Tensor alias = share();  // the same tensor: storage, sizes, strides and autograd identity (no view op in a graph)
        if (alias.scope != owner && owner != null) alias.moveTo(owner);
        close();
        return new Overwritable(alias);
    }

    // ------------------------------------------------------------------ creation

    public static Tensor empty(DType dtype, Device device, long... shape) {
        return produce("psd_tensor_empty", (s, r) -> psd_tensor_empty(s.longs(shape), shape.length, dtype.code(), device.typeCode(), device.index(), r));
    }

    public static Tensor zeros(long... shape) {
        return zeros(DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor zeros(DType dtype, long... shape) {
        return zeros(dtype, Device.CPU, shape);
    }

    public static Tensor zeros(DType dtype, Device device, long... shape) {
        return produce("psd_tensor_zeros", (s, r) -> psd_tensor_zeros(s.longs(shape), shape.length, dtype.code(), device.typeCode(), device.index(), r));
    }

    public static Tensor ones(long... shape) {
        return ones(DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor ones(DType dtype, Device device, long... shape) {
        return produce("psd_tensor_ones", (s, r) -> psd_tensor_ones(s.longs(shape), shape.length, dtype.code(), device.typeCode(), device.index(), r));
    }

    public static Tensor full(double value, long... shape) {
        return full(value, DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor full(double value, DType dtype, Device device, long... shape) {
        return produce("psd_tensor_full", (s, r) -> psd_tensor_full(s.longs(shape), shape.length, value, dtype.code(), device.typeCode(), device.index(), r));
    }

    /** A 0-d float32 tensor. */
    public static Tensor scalar(double value) {
        return full(value, DType.FLOAT32, Device.CPU);
    }

    public static Tensor arange(double start, double end, double step, DType dtype) {
        return produce("psd_tensor_arange", (s, r) -> psd_tensor_arange(start, end, step, dtype.code(), Device.CPU.typeCode(), -1, r));
    }

    public static Tensor linspace(double start, double end, long steps, DType dtype) {
        return produce("psd_tensor_linspace", (s, r) -> psd_tensor_linspace(start, end, steps, dtype.code(), Device.CPU.typeCode(), -1, r));
    }

    public static Tensor randn(Generator generator, long... shape) {
        return randn(generator, DType.FLOAT32, Device.CPU, shape);
    }

    public static Tensor randn(Generator generator, DType dtype, Device device, long... shape) {
        return produce("psd_tensor_randn", (s, r) -> psd_tensor_randn(s.longs(shape), shape.length, dtype.code(), device.typeCode(), device.index(), Generator.handleOrNull(generator), r));
    }

    public static Tensor rand(Generator generator, long... shape) {
        return produce("psd_tensor_rand", (s, r) -> psd_tensor_rand(s.longs(shape), shape.length, DType.FLOAT32.code(), Device.CPU.typeCode(), -1, Generator.handleOrNull(generator), r));
    }

    public static Tensor randint(long low, long high, Generator generator, long... shape) {
        return produce("psd_tensor_randint", (s, r) -> psd_tensor_randint(low, high, s.longs(shape), shape.length, DType.INT64.code(), Device.CPU.typeCode(), -1, Generator.handleOrNull(generator), r));
    }

    public Tensor randnLike(Generator generator) {
        MemorySegment h = handle();
        return produce("psd_tensor_randn_like", (s, r) -> psd_tensor_randn_like(h, Generator.handleOrNull(generator), r));
    }

    /** A float32 tensor with a copy of {@code values}. */
    public static Tensor of(float[] values, long... shape) {
        checkCount(values.length, shape);
        Tensor t = empty(DType.FLOAT32, Device.CPU, shape);
        MemorySegment.copy(values, 0, t.rawData(), ValueLayout.JAVA_FLOAT, 0, values.length);
        return t;
    }

    /** An int64 tensor with a copy of {@code values}. */
    public static Tensor of(long[] values, long... shape) {
        checkCount(values.length, shape);
        Tensor t = empty(DType.INT64, Device.CPU, shape);
        MemorySegment.copy(values, 0, t.rawData(), ValueLayout.JAVA_LONG, 0, values.length);
        return t;
    }

    public static Tensor of(double[] values, long... shape) {
        checkCount(values.length, shape);
        Tensor t = empty(DType.FLOAT64, Device.CPU, shape);
        MemorySegment.copy(values, 0, t.rawData(), ValueLayout.JAVA_DOUBLE, 0, values.length);
        return t;
    }

    private static void checkCount(long count, long[] shape) {
        long numel = 1;
        for (long d : shape) numel *= d;
        if (numel != count) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + numel + " elements, got " + count);
    }

    /**
     * Wraps native memory without copying. The tensor, and every view of it, refers to {@code data};
     * the bridge keeps {@code data} reachable until libtorch frees the last such reference. The memory's
     * arena must stay open that long (an automatic or global arena, or a mapped file, does).
     */
    public static Tensor fromSegment(MemorySegment data, DType dtype, long... shape) {
        return BlobKeeper.wrap(data, dtype, shape, null);
    }

    /** As {@link #fromSegment(MemorySegment, DType, long...)} with explicit element strides. */
    public static Tensor fromSegment(MemorySegment data, DType dtype, long[] shape, long[] strides) {
        return BlobKeeper.wrap(data, dtype, shape, strides);
    }

    // ------------------------------------------------------------------ accessors

    public int dim() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(8);
        Native.check(psd_tensor_dim(handle(), ret), "psd_tensor_dim");
        return (int) ret.get(ValueLayout.JAVA_LONG, 0);
    }

    public long[] shape() {
        int dim = dim();
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(8L * Math.max(dim, 1));
        Native.check(psd_tensor_sizes(handle(), ret, dim), "psd_tensor_sizes");
        return ret.asSlice(0, 8L * dim).toArray(ValueLayout.JAVA_LONG);
    }

    public long size(int dim) {
        long[] shape = shape();
        int d = dim < 0 ? dim + shape.length : dim;
        if (d < 0 || d >= shape.length) throw new IndexOutOfBoundsException("dim " + dim + " of a " + shape.length + "-d tensor");
        return shape[d];
    }

    public long[] strides() {
        int dim = dim();
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(8L * Math.max(dim, 1));
        Native.check(psd_tensor_strides(handle(), ret, dim), "psd_tensor_strides");
        return ret.asSlice(0, 8L * dim).toArray(ValueLayout.JAVA_LONG);
    }

    public long numel() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(8);
        Native.check(psd_tensor_numel(handle(), ret), "psd_tensor_numel");
        return ret.get(ValueLayout.JAVA_LONG, 0);
    }

    public DType dtype() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(4);
        Native.check(psd_tensor_dtype(handle(), ret), "psd_tensor_dtype");
        return DType.fromCode(ret.get(ValueLayout.JAVA_INT, 0));
    }

    public Device device() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment type = s.allocate(4);
        MemorySegment index = s.allocate(4);
        Native.check(psd_tensor_device(handle(), type, index), "psd_tensor_device");
        return Device.fromCodes(type.get(ValueLayout.JAVA_INT, 0), index.get(ValueLayout.JAVA_INT, 0));
    }

    /** Bytes of the storage behind this tensor (shared with its views). */
    public long storageBytes() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(8);
        Native.check(psd_tensor_storage_nbytes(handle(), ret), "psd_tensor_storage_nbytes");
        return ret.get(ValueLayout.JAVA_LONG, 0);
    }

    public boolean isContiguous() {
        return isContiguous(MemoryFormat.CONTIGUOUS);
    }

    public boolean isContiguous(MemoryFormat format) {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(1);
        Native.check(psd_tensor_is_contiguous(handle(), format.code(), ret), "psd_tensor_is_contiguous");
        return ret.get(ValueLayout.JAVA_BOOLEAN, 0);
    }

    /**
     * libtorch's version counter of this tensor: it grows with every in-place change (an optimizer step, a copy
     * into it), so whatever was derived from the tensor can tell it is stale. -1 for an inference tensor (none).
     */
    public long version() {
        return int64Result("psd_tensor_version", (h, ret) -> psd_tensor_version(h, ret));
    }

    /**
     * A hint that this tensor's memory will not be read for a while (a weight whose prepacked copy now does the
     * work): for memory wrapped from outside libtorch ({@link #fromSegment}: a memory-mapped checkpoint) the kernel
     * reclaims the pages inside its storage; clean pages leave the resident set and come back from the file when
     * read, written pages are kept. The values never change. Returns the bytes advised (0 for libtorch's own
     * memory, off the CPU, or without the kernel's support).
     */
    public long pageOut() {
        return int64Result("psd_tensor_page_out", (h, ret) -> psd_tensor_page_out(h, ret));
    }

    /**
     * Whether this tensor's memory was wrapped from outside libtorch ({@link #fromSegment}: a memory-mapped
     * checkpoint) rather than allocated by it: only such memory can leave the resident set ({@link #pageOut}).
     */
    public boolean isExternal() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(1);
        Native.check(psd_tensor_is_external(handle(), ret), "psd_tensor_is_external");
        return ret.get(ValueLayout.JAVA_BOOLEAN, 0);
    }

    /** A native call on this tensor that writes one int64 result: that value. */
    private long int64Result(String function, java.util.function.ToIntBiFunction<MemorySegment, MemorySegment> call) {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(8);
        Native.check(call.applyAsInt(handle(), ret), function);
        return ret.get(ValueLayout.JAVA_LONG, 0);
    }

    /** The address of the first element (borrowed). */
    public long address() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.pointer();
        Native.check(psd_tensor_data_ptr(handle(), ret), "psd_tensor_data_ptr");
        return ret.get(ValueLayout.JAVA_LONG, 0);
    }

    /**
     * The memory of a contiguous CPU tensor, without a copy. Writes through it are seen by libtorch and the
     * other way round. The segment is valid until this tensor handle is closed (directly or with its scope);
     * using it afterwards throws instead of reading freed memory.
     */
    public MemorySegment data() {
        MemorySegment raw = rawData();
        synchronized (this) {
            if (dataClosed) throw closedException();  // freed since rawData() looked
            if (dataArena == null) dataArena = Arena.ofShared();
            return raw.reinterpret(dataArena, null);
        }
    }

    /** The storage as an unguarded segment, for copies made on the spot (never handed out). */
    private MemorySegment rawData() {
        if (device().type() != Device.Type.CPU) throw new IllegalStateException("data() needs a CPU tensor, this one is on " + device());
        if (!isContiguous()) throw new IllegalStateException("data() needs a contiguous tensor: call contiguous() first");
        long bytes = numel() * dtype().elementSize();
        return MemorySegment.ofAddress(address()).reinterpret(bytes);
    }

    public float[] toFloatArray() {
        try (Scope ignored = Scope.open()) {
            // a handle of our own: another thread may close this tensor while we copy
            Tensor t = dtype() == DType.FLOAT32 && isContiguous() && device().type() == Device.Type.CPU ? share() : to(Device.CPU).to(DType.FLOAT32).contiguous();
            return t.rawData().toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    public long[] toLongArray() {
        try (Scope ignored = Scope.open()) {
            Tensor t = dtype() == DType.INT64 && isContiguous() && device().type() == Device.Type.CPU ? share() : to(Device.CPU).to(DType.INT64).contiguous();
            return t.rawData().toArray(ValueLayout.JAVA_LONG);
        }
    }

    public double[] toDoubleArray() {
        try (Scope ignored = Scope.open()) {
            return to(Device.CPU).to(DType.FLOAT64).contiguous().rawData().toArray(ValueLayout.JAVA_DOUBLE);
        }
    }

    /** The value of a one-element tensor. */
    public double item() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(8);
        Native.check(psd_tensor_item_double(handle(), ret), "psd_tensor_item_double");
        return ret.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    public long itemLong() {
        return int64Result("psd_tensor_item_int64", (h, ret) -> psd_tensor_item_int64(h, ret));
    }

    /** Shape, dtype and device; never the data. */
    @Override
    public String toString() {
        if (handle == 0) return "Tensor[closed]";
        return "Tensor" + Arrays.toString(shape()) + " " + dtype().name().toLowerCase() + " " + device();
    }

    // ------------------------------------------------------------------ conversion

    public Tensor to(DType dtype) {
        MemorySegment h = handle();
        return produce("psd_tensor_to_dtype", (s, r) -> psd_tensor_to_dtype(h, dtype.code(), r));
    }

    public Tensor to(Device device) {
        MemorySegment h = handle();
        return produce("psd_tensor_to_device", (s, r) -> psd_tensor_to_device(h, device.typeCode(), device.index(), r));
    }

    public Tensor copy() {
        MemorySegment h = handle();
        return produce("psd_tensor_clone", (s, r) -> psd_tensor_clone(h, r));
    }

    public Tensor contiguous() {
        return contiguous(MemoryFormat.CONTIGUOUS);
    }

    public Tensor contiguous(MemoryFormat format) {
        MemorySegment h = handle();
        return produce("psd_tensor_contiguous", (s, r) -> psd_tensor_contiguous(h, format.code(), r));
    }

    /** In place: this <- src (broadcast and converted). Returns this. */
    public Tensor copyFrom(Tensor src) {
        if (OpHooks.active != 0) OpHooks.tag("psd_tensor_copy_");  // in place, but it may allocate temporaries
        Native.check(psd_tensor_copy_(handle(), src.handle()), "psd_tensor_copy_");
        return this;
    }

    /**
     * this += alpha * other, in place (other broadcasts to this shape). For a temporary that nothing else
     * reads: saves an allocation the size of this. Autograd refuses it at backward time where the graph
     * needed the old value.
     */
    public Tensor addInPlace(Tensor other, double alpha) {
        if (OpHooks.active != 0) OpHooks.tag("psd_tensor_add_");  // in place, but it may allocate temporaries
        Native.check(psd_tensor_add_(handle(), other.handle(), alpha), "psd_tensor_add_");
        return this;
    }

    public Tensor fill(double value) {
        Native.check(psd_tensor_fill_(handle(), value), "psd_tensor_fill_");
        return this;
    }

    /** A second handle to the same tensor (same storage and autograd identity), owned by the current scope. */
    public Tensor share() {
        MemorySegment h = handle();
        return produce("psd_tensor_share", (s, r) -> psd_tensor_share(h, r));
    }

    // ------------------------------------------------------------------ operations by family: PointwiseOps, ActivationOps,
    // ReductionOps, LinearAlgebraOps, ShapeOps (each in its own file); the static ones stay here

    /** condition ? a : b, elementwise with broadcasting. */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        MemorySegment c = condition.handle(), x = a.handle(), y = b.handle();
        return produce("psd_tensor_where", (s, r) -> psd_tensor_where(c, x, y, r));
    }

    public static Tensor cat(long dim, Tensor... tensors) {
        return produce("psd_tensor_cat", (s, r) -> psd_tensor_cat(handles(s, tensors), tensors.length, dim, r));
    }

    public static Tensor stack(long dim, Tensor... tensors) {
        return produce("psd_tensor_stack", (s, r) -> psd_tensor_stack(handles(s, tensors), tensors.length, dim, r));
    }

    @FunctionalInterface
    interface PiecesCall {
        int invoke(ThreadState scratch, MemorySegment out, long capacity, MemorySegment count);
    }

    static Tensor[] pieces(String name, PiecesCall call, long capacity) {
        Scope.current();  // every piece needs an owner: fail before any handle is made
        ThreadState state = ThreadState.get().reset();
        long cap = Math.max(capacity, 1);
        MemorySegment out = state.allocate(8 * cap);
        MemorySegment count = state.allocate(8);
        long start = OpHooks.active != 0 ? OpHooks.before(name) : 0;
        int status = call.invoke(state, out, cap, count);
        if (start != 0) OpTimes.record(name, start);
        Native.check(status, name);
        return adoptAll(state, out, (int) count.get(ValueLayout.JAVA_LONG, 0));
    }

    static MemorySegment handles(ThreadState state, Tensor... tensors) {
        MemorySegment array = state.allocate(8L * Math.max(tensors.length, 1));
        for (int i = 0; i < tensors.length; i++) array.setAtIndex(ValueLayout.ADDRESS, i, tensors[i].handle());
        return array;
    }

    // ------------------------------------------------------------------ autograd

    public boolean requiresGrad() {
        ThreadState s = ThreadState.get().reset();
        MemorySegment ret = s.allocate(1);
        Native.check(psd_tensor_requires_grad(handle(), ret), "psd_tensor_requires_grad");
        return ret.get(ValueLayout.JAVA_BOOLEAN, 0);
    }

    public Tensor requiresGrad(boolean requiresGrad) {
        Native.check(psd_tensor_set_requires_grad(handle(), requiresGrad), "psd_tensor_set_requires_grad");
        return this;
    }

    /** The accumulated gradient, or null when there is none. */
    public Tensor grad() {
        MemorySegment h = handle();
        return produce("psd_tensor_grad", (s, r) -> psd_tensor_grad(h, r));
    }

    /** Drops the accumulated gradient. */
    public void zeroGrad() {
        Native.check(psd_tensor_zero_grad(handle()), "psd_tensor_zero_grad");
    }

    public Tensor detach() {
        MemorySegment h = handle();
        return produce("psd_tensor_detach", (s, r) -> psd_tensor_detach(h, r));
    }

    /** Back-propagates from this scalar. */
    public void backward() {
        if (OpHooks.active != 0) OpHooks.tag("psd_autograd_backward");  // in place, but it may allocate temporaries
        Native.check(psd_autograd_backward(handle(), MemorySegment.NULL, false, false), "psd_autograd_backward");
    }

    public void backward(Tensor gradient, boolean retainGraph, boolean createGraph) {
        if (OpHooks.active != 0) OpHooks.tag("psd_autograd_backward");  // in place, but it may allocate temporaries
        Native.check(psd_autograd_backward(handle(), gradient == null ? MemorySegment.NULL : gradient.handle(), retainGraph, createGraph),
                "psd_autograd_backward");
    }
}
