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
public final class Tensor implements AutoCloseable {

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
            HANDLE = lookup.findVarHandle(Tensor.class, "handle", MemorySegment.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        ThreadState.setUnpinner(pinned -> ((Tensor) pinned).unpin());
        Reclaim.install();
    }

    private MemorySegment handle;
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

    private Tensor(MemorySegment handle) {
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
        return adopt(state, ret.get(ValueLayout.ADDRESS, 0));
    }

    /**
     * Takes ownership of a new handle: registers it in the current scope. It may overwrite the scratch
     * buffer (the JFR event asks the tensor for its size): read every result out of scratch memory first.
     */
    static Tensor adopt(ThreadState state, MemorySegment handle) {
        if (handle.equals(MemorySegment.NULL)) return null;
        Scope owner = (Scope) state.stack.scope;
        if (owner == null) {
            psd_tensor_free(handle);
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
        if (s != null && s.confinedTo == Thread.currentThread() && (state & CLOSED) == 0) return handle;
        return pin();
    }

    private MemorySegment pin() {
        long st;
        do {
            st = (long) STATE.getVolatile(this);
            if ((st & CLOSED) != 0) throw closedException();
        } while (!STATE.weakCompareAndSet(this, st, st + 1));
        ThreadState.get().pin(this);
        return handle;
    }

    private void unpin() {
        if ((long) STATE.getAndAdd(this, -1L) - 1 == CLOSED) free();
    }

    /** The handle field as it is, without a check or a pin (for the safety net's bookkeeping). */
    MemorySegment rawHandle() {
        return handle;
    }

    private static IllegalStateException closedException() {
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
                if (st == CLOSED && handle != null) free();  // a free that failed earlier: try again
                return;
            }
        } while (!STATE.weakCompareAndSet(this, st, st | CLOSED));
        if (st == 0) free();
    }

    private void free() {
        MemorySegment h = (MemorySegment) HANDLE.getAndSet(this, (MemorySegment) null);
        if (h == null) return;  // another thread freed it
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
        else psd_tensor_free(h);
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
     * memory, owned by this tensor's scope, goes into the result, and this handle is closed, so any later use of it
     * throws. The memory itself stays while a handle or a view refers to it.
     */
    public Overwritable giveUp() {
        if (!isOpen()) throw closedException();
        Scope owner = scope;
        // the same memory, sizes and strides: a whole-range slice keeps every stride as it is, where view() would
        // recompute the strides of size-1 dimensions (a batch of 1 in channels-last then no longer suggests that layout)
        Tensor alias = dim() == 0 ? view(shape()) : narrow(0, 0, size(0));
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
        if (handle == null) return "Tensor[closed]";
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

    // ------------------------------------------------------------------ elementwise

    public Tensor add(Tensor other) {
        // written out rather than through produce(): the most frequent op, and the bridge benchmark's
        MemorySegment a = handle(), b = other.handle();
        ThreadState state = ThreadState.get().reset();
        MemorySegment ret = state.pointer();
        long start = OpHooks.active != 0 ? OpHooks.before("psd_tensor_add") : 0;
        int status = psd_tensor_add(a, b, 1.0, ret);
        if (start != 0) OpTimes.record("psd_tensor_add", start);
        if (status != 0) throw Native.failure(status, "psd_tensor_add");
        state.unpinAll();
        return adopt(state, ret.get(ValueLayout.ADDRESS, 0));
    }

    /** this + alpha * other */
    public Tensor add(Tensor other, double alpha) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_add", (s, r) -> psd_tensor_add(a, b, alpha, r));
    }

    public Tensor sub(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_sub", (s, r) -> psd_tensor_sub(a, b, 1.0, r));
    }

    public Tensor mul(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_mul", (s, r) -> psd_tensor_mul(a, b, r));
    }

    public Tensor div(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_div", (s, r) -> psd_tensor_div(a, b, r));
    }

    public Tensor pow(Tensor exponent) {
        MemorySegment a = handle(), b = exponent.handle();
        return produce("psd_tensor_pow", (s, r) -> psd_tensor_pow(a, b, r));
    }

    public Tensor maximum(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_maximum", (s, r) -> psd_tensor_maximum(a, b, r));
    }

    public Tensor minimum(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_minimum", (s, r) -> psd_tensor_minimum(a, b, r));
    }

    public Tensor add(double value) {
        MemorySegment a = handle();
        return produce("psd_tensor_add_scalar", (s, r) -> psd_tensor_add_scalar(a, value, r));
    }

    public Tensor sub(double value) {
        return add(-value);
    }

    public Tensor mul(double value) {
        MemorySegment a = handle();
        return produce("psd_tensor_mul_scalar", (s, r) -> psd_tensor_mul_scalar(a, value, r));
    }

    public Tensor div(double value) {
        MemorySegment a = handle();
        return produce("psd_tensor_div_scalar", (s, r) -> psd_tensor_div_scalar(a, value, r));
    }

    public Tensor pow(double exponent) {
        MemorySegment a = handle();
        return produce("psd_tensor_pow_scalar", (s, r) -> psd_tensor_pow_scalar(a, exponent, r));
    }

    /** value - this */
    public Tensor rsub(double value) {
        MemorySegment a = handle();
        return produce("psd_tensor_rsub_scalar", (s, r) -> psd_tensor_rsub_scalar(a, value, r));
    }

    public Tensor eq(Tensor o) { MemorySegment a = handle(), b = o.handle(); return produce("psd_tensor_eq", (s, r) -> psd_tensor_eq(a, b, r)); }
    public Tensor ne(Tensor o) { MemorySegment a = handle(), b = o.handle(); return produce("psd_tensor_ne", (s, r) -> psd_tensor_ne(a, b, r)); }
    public Tensor lt(Tensor o) { MemorySegment a = handle(), b = o.handle(); return produce("psd_tensor_lt", (s, r) -> psd_tensor_lt(a, b, r)); }
    public Tensor le(Tensor o) { MemorySegment a = handle(), b = o.handle(); return produce("psd_tensor_le", (s, r) -> psd_tensor_le(a, b, r)); }
    public Tensor gt(Tensor o) { MemorySegment a = handle(), b = o.handle(); return produce("psd_tensor_gt", (s, r) -> psd_tensor_gt(a, b, r)); }
    public Tensor ge(Tensor o) { MemorySegment a = handle(), b = o.handle(); return produce("psd_tensor_ge", (s, r) -> psd_tensor_ge(a, b, r)); }
    public Tensor eq(double v) { MemorySegment a = handle(); return produce("psd_tensor_eq_scalar", (s, r) -> psd_tensor_eq_scalar(a, v, r)); }
    public Tensor ne(double v) { MemorySegment a = handle(); return produce("psd_tensor_ne_scalar", (s, r) -> psd_tensor_ne_scalar(a, v, r)); }
    public Tensor lt(double v) { MemorySegment a = handle(); return produce("psd_tensor_lt_scalar", (s, r) -> psd_tensor_lt_scalar(a, v, r)); }
    public Tensor le(double v) { MemorySegment a = handle(); return produce("psd_tensor_le_scalar", (s, r) -> psd_tensor_le_scalar(a, v, r)); }
    public Tensor gt(double v) { MemorySegment a = handle(); return produce("psd_tensor_gt_scalar", (s, r) -> psd_tensor_gt_scalar(a, v, r)); }
    public Tensor ge(double v) { MemorySegment a = handle(); return produce("psd_tensor_ge_scalar", (s, r) -> psd_tensor_ge_scalar(a, v, r)); }

    /** condition ? a : b, elementwise with broadcasting. */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        MemorySegment c = condition.handle(), x = a.handle(), y = b.handle();
        return produce("psd_tensor_where", (s, r) -> psd_tensor_where(c, x, y, r));
    }

    public Tensor clamp(double min, double max) {
        MemorySegment a = handle();
        return produce("psd_tensor_clamp", (s, r) -> psd_tensor_clamp(a, true, min, true, max, r));
    }

    public Tensor clampMin(double min) {
        MemorySegment a = handle();
        return produce("psd_tensor_clamp", (s, r) -> psd_tensor_clamp(a, true, min, false, 0, r));
    }

    public Tensor clampMax(double max) {
        MemorySegment a = handle();
        return produce("psd_tensor_clamp", (s, r) -> psd_tensor_clamp(a, false, 0, true, max, r));
    }

    public Tensor neg() { MemorySegment a = handle(); return produce("psd_tensor_neg", (s, r) -> psd_tensor_neg(a, r)); }
    public Tensor exp() { MemorySegment a = handle(); return produce("psd_tensor_exp", (s, r) -> psd_tensor_exp(a, r)); }
    public Tensor log() { MemorySegment a = handle(); return produce("psd_tensor_log", (s, r) -> psd_tensor_log(a, r)); }
    public Tensor sqrt() { MemorySegment a = handle(); return produce("psd_tensor_sqrt", (s, r) -> psd_tensor_sqrt(a, r)); }
    public Tensor rsqrt() { MemorySegment a = handle(); return produce("psd_tensor_rsqrt", (s, r) -> psd_tensor_rsqrt(a, r)); }
    public Tensor abs() { MemorySegment a = handle(); return produce("psd_tensor_abs", (s, r) -> psd_tensor_abs(a, r)); }
    public Tensor sin() { MemorySegment a = handle(); return produce("psd_tensor_sin", (s, r) -> psd_tensor_sin(a, r)); }
    public Tensor cos() { MemorySegment a = handle(); return produce("psd_tensor_cos", (s, r) -> psd_tensor_cos(a, r)); }
    public Tensor reciprocal() { MemorySegment a = handle(); return produce("psd_tensor_reciprocal", (s, r) -> psd_tensor_reciprocal(a, r)); }
    public Tensor floor() { MemorySegment a = handle(); return produce("psd_tensor_floor", (s, r) -> psd_tensor_floor(a, r)); }
    public Tensor round() { MemorySegment a = handle(); return produce("psd_tensor_round", (s, r) -> psd_tensor_round(a, r)); }
    public Tensor sign() { MemorySegment a = handle(); return produce("psd_tensor_sign", (s, r) -> psd_tensor_sign(a, r)); }
    public Tensor logicalNot() { MemorySegment a = handle(); return produce("psd_tensor_logical_not", (s, r) -> psd_tensor_logical_not(a, r)); }

    // ------------------------------------------------------------------ activations

    public Tensor silu() { MemorySegment a = handle(); return produce("psd_tensor_silu", (s, r) -> psd_tensor_silu(a, r)); }
    public Tensor relu() { MemorySegment a = handle(); return produce("psd_tensor_relu", (s, r) -> psd_tensor_relu(a, r)); }
    public Tensor sigmoid() { MemorySegment a = handle(); return produce("psd_tensor_sigmoid", (s, r) -> psd_tensor_sigmoid(a, r)); }
    public Tensor tanh() { MemorySegment a = handle(); return produce("psd_tensor_tanh", (s, r) -> psd_tensor_tanh(a, r)); }

    /** The exact (erf) GELU. */
    public Tensor gelu() {
        return gelu(false);
    }

    public Tensor gelu(boolean tanhApproximation) {
        MemorySegment a = handle();
        return produce("psd_tensor_gelu", (s, r) -> psd_tensor_gelu(a, tanhApproximation, r));
    }

    public Tensor leakyRelu(double negativeSlope) {
        MemorySegment a = handle();
        return produce("psd_tensor_leaky_relu", (s, r) -> psd_tensor_leaky_relu(a, negativeSlope, r));
    }

    public Tensor softmax(long dim) {
        MemorySegment a = handle();
        return produce("psd_tensor_softmax", (s, r) -> psd_tensor_softmax(a, dim, r));
    }

    public Tensor logSoftmax(long dim) {
        MemorySegment a = handle();
        return produce("psd_tensor_log_softmax", (s, r) -> psd_tensor_log_softmax(a, dim, r));
    }

    // ------------------------------------------------------------------ reductions

    public Tensor sum() {
        return sum(new long[0], false);
    }

    public Tensor sum(long[] dims, boolean keepdim) {
        MemorySegment a = handle();
        return produce("psd_tensor_sum", (s, r) -> psd_tensor_sum(a, s.longs(dims), dims.length, keepdim, r));
    }

    public Tensor mean() {
        return mean(new long[0], false);
    }

    public Tensor mean(long[] dims, boolean keepdim) {
        MemorySegment a = handle();
        return produce("psd_tensor_mean", (s, r) -> psd_tensor_mean(a, s.longs(dims), dims.length, keepdim, r));
    }

    /** Variance with {@code correction} (1: unbiased). An empty dims array reduces over all. */
    public Tensor var(long[] dims, long correction, boolean keepdim) {
        MemorySegment a = handle();
        return produce("psd_tensor_var", (s, r) -> psd_tensor_var(a, s.longs(dims), dims.length, correction, keepdim, r));
    }

    public Tensor std(long[] dims, long correction, boolean keepdim) {
        MemorySegment a = handle();
        return produce("psd_tensor_std", (s, r) -> psd_tensor_std(a, s.longs(dims), dims.length, correction, keepdim, r));
    }

    public Tensor max() { MemorySegment a = handle(); return produce("psd_tensor_max_all", (s, r) -> psd_tensor_max_all(a, r)); }
    public Tensor min() { MemorySegment a = handle(); return produce("psd_tensor_min_all", (s, r) -> psd_tensor_min_all(a, r)); }

    public Tensor max(long dim, boolean keepdim) {
        MemorySegment a = handle();
        return produce("psd_tensor_max_dim", (s, r) -> psd_tensor_max_dim(a, dim, keepdim, r, MemorySegment.NULL));
    }

    public Tensor min(long dim, boolean keepdim) {
        MemorySegment a = handle();
        return produce("psd_tensor_min_dim", (s, r) -> psd_tensor_min_dim(a, dim, keepdim, r, MemorySegment.NULL));
    }

    public Tensor argmax(long dim, boolean keepdim) {
        MemorySegment a = handle();
        return produce("psd_tensor_argmax", (s, r) -> psd_tensor_argmax(a, dim, keepdim, r));
    }

    // ------------------------------------------------------------------ linear algebra

    public Tensor matmul(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_matmul", (s, r) -> psd_tensor_matmul(a, b, r));
    }

    public Tensor bmm(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return produce("psd_tensor_bmm", (s, r) -> psd_tensor_bmm(a, b, r));
    }

    /** beta * this + alpha * (a @ b), batched. With beta == 0 this tensor's values are never read. */
    public Tensor baddbmm(Tensor a, Tensor b, double beta, double alpha) {
        MemorySegment in = handle(), x = a.handle(), y = b.handle();
        return produce("psd_tensor_baddbmm", (s, r) -> psd_tensor_baddbmm(in, x, y, beta, alpha, r));
    }

    // ------------------------------------------------------------------ shape and indexing

    public Tensor reshape(long... shape) {
        MemorySegment a = handle();
        return produce("psd_tensor_reshape", (s, r) -> psd_tensor_reshape(a, s.longs(shape), shape.length, r));
    }

    public Tensor view(long... shape) {
        MemorySegment a = handle();
        return produce("psd_tensor_view", (s, r) -> psd_tensor_view(a, s.longs(shape), shape.length, r));
    }

    public Tensor permute(long... dims) {
        MemorySegment a = handle();
        return produce("psd_tensor_permute", (s, r) -> psd_tensor_permute(a, s.longs(dims), dims.length, r));
    }

    public Tensor transpose(long dim0, long dim1) {
        MemorySegment a = handle();
        return produce("psd_tensor_transpose", (s, r) -> psd_tensor_transpose(a, dim0, dim1, r));
    }

    public Tensor expand(long... shape) {
        MemorySegment a = handle();
        return produce("psd_tensor_expand", (s, r) -> psd_tensor_expand(a, s.longs(shape), shape.length, r));
    }

    public Tensor repeat(long... repeats) {
        MemorySegment a = handle();
        return produce("psd_tensor_repeat", (s, r) -> psd_tensor_repeat(a, s.longs(repeats), repeats.length, r));
    }

    public Tensor squeeze(long dim) {
        MemorySegment a = handle();
        return produce("psd_tensor_squeeze", (s, r) -> psd_tensor_squeeze(a, dim, r));
    }

    public Tensor unsqueeze(long dim) {
        MemorySegment a = handle();
        return produce("psd_tensor_unsqueeze", (s, r) -> psd_tensor_unsqueeze(a, dim, r));
    }

    public Tensor flatten(long startDim, long endDim) {
        MemorySegment a = handle();
        return produce("psd_tensor_flatten", (s, r) -> psd_tensor_flatten(a, startDim, endDim, r));
    }

    public Tensor narrow(long dim, long start, long length) {
        MemorySegment a = handle();
        return produce("psd_tensor_narrow", (s, r) -> psd_tensor_narrow(a, dim, start, length, r));
    }

    public Tensor slice(long dim, long start, long end, long step) {
        MemorySegment a = handle();
        return produce("psd_tensor_slice", (s, r) -> psd_tensor_slice(a, dim, start, end, step, r));
    }

    /** The i-th entry along dim 0 (a view). */
    public Tensor get(long index) {
        return narrow(0, index, 1).squeeze(0);
    }

    public Tensor indexSelect(long dim, Tensor index) {
        MemorySegment a = handle(), i = index.handle();
        return produce("psd_tensor_index_select", (s, r) -> psd_tensor_index_select(a, dim, i, r));
    }

    public Tensor gather(long dim, Tensor index) {
        MemorySegment a = handle(), i = index.handle();
        return produce("psd_tensor_gather", (s, r) -> psd_tensor_gather(a, dim, i, r));
    }

    public static Tensor cat(long dim, Tensor... tensors) {
        return produce("psd_tensor_cat", (s, r) -> psd_tensor_cat(handles(s, tensors), tensors.length, dim, r));
    }

    public static Tensor stack(long dim, Tensor... tensors) {
        return produce("psd_tensor_stack", (s, r) -> psd_tensor_stack(handles(s, tensors), tensors.length, dim, r));
    }

    public Tensor[] chunk(long chunks, long dim) {
        return pieces("psd_tensor_chunk", (s, out, cap, count) -> psd_tensor_chunk(handle(), chunks, dim, out, cap, count), chunks);
    }

    public Tensor[] split(long splitSize, long dim) {
        long pieces = Math.max(1, (size((int) dim) + splitSize - 1) / Math.max(1, splitSize));
        return pieces("psd_tensor_split", (s, out, cap, count) -> psd_tensor_split(handle(), splitSize, dim, out, cap, count), pieces);
    }

    @FunctionalInterface
    private interface PiecesCall {
        int invoke(ThreadState scratch, MemorySegment out, long capacity, MemorySegment count);
    }

    private static Tensor[] pieces(String name, PiecesCall call, long capacity) {
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
