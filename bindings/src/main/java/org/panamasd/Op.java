package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;
import org.panamasd.internal.psd_value;

/**
 * Any registered ATen operator, called by name through libtorch's dispatcher (the boxed path). The
 * typed Tensor methods stay the hot path; this one reaches everything else.
 *
 * {@snippet :
 * Op hardtanh = Op.find("aten::hardtanh", "");
 * Tensor y = hardtanh.callTensor(x, -0.5, 0.5);
 * }
 *
 * <p>Arguments: {@link Tensor}, Long/Integer, Double/Float, Boolean, long[]/int[], {@link DType},
 * String, {@code Tensor[]} or {@code List<Tensor>}, and null for None. Missing trailing arguments take
 * the schema's defaults. Results: Tensor (owned by the current scope), Long, Double, Boolean, long[],
 * String or null, with a tensor list spread into its tensors.
 */
public final class Op {
    private static final Map<String, Op> CACHE = new ConcurrentHashMap<>();
    private static final int MAX_RESULTS = 64;

    private final MemorySegment handle;
    private final String name;

    private Op(MemorySegment handle, String name) {
        this.handle = handle;
        this.name = name;
    }

    /** Looks the operator up once; later calls with the same name and overload reuse it. */
    public static Op find(String name, String overload) {
        return CACHE.computeIfAbsent(name + "." + overload, key -> {
            Native.ensureLoaded();
            ThreadState state = ThreadState.get().reset();
            MemorySegment ret = state.pointer();
            MemorySegment n = state.allocate(name.length() * 3L + 1);
            n.setString(0, name);
            MemorySegment o = state.allocate(overload.length() * 3L + 1);
            o.setString(0, overload);
            Native.check(psd_op_find(n, o, ret), "psd_op_find(" + key + ")");
            return new Op(ret.get(ValueLayout.ADDRESS, 0), name + (overload.isEmpty() ? "" : "." + overload));
        });
    }

    public String schema() {
        MemorySegment ret = ThreadState.get().reset().pointer();
        Native.check(psd_op_schema(handle, ret), "psd_op_schema");
        return ret.get(ValueLayout.ADDRESS, 0).reinterpret(Long.MAX_VALUE).getString(0);
    }

    public List<Object> call(Object... args) {
        Scope.current();  // tensor results need an owner: fail before any handle is made
        ThreadState state = ThreadState.get().reset();
        long size = psd_value.sizeof();
        MemorySegment in = state.allocate(size * Math.max(1, args.length));
        in.fill((byte) 0);
        for (int i = 0; i < args.length; i++) box(state, psd_value.asSlice(in, i), args[i], i);
        MemorySegment out = state.allocate(size * MAX_RESULTS);
        MemorySegment count = state.allocate(8);
        long start = OpHooks.active != 0 ? OpHooks.before(name) : 0;
        int status = psd_op_call(handle, in, args.length, out, MAX_RESULTS, count);
        if (start != 0) OpTimes.record(name, start);
        if (status != 0) throw Native.failure(status, name);
        state.unpinAll();
        int n = (int) count.get(ValueLayout.JAVA_LONG, 0);
        // every value is read out of scratch memory before the first tensor is adopted (adopting may reuse it)
        Object[] values = new Object[n];
        for (int i = 0; i < n; i++) values[i] = unbox(psd_value.asSlice(out, i));
        List<Object> results = new ArrayList<>(n);
        for (Object v : values) results.add(v instanceof MemorySegment handle ? Tensor.adopt(state, handle) : v);
        return Collections.unmodifiableList(results);
    }

    /** The first result, which must be a tensor. */
    public Tensor callTensor(Object... args) {
        List<Object> results = call(args);
        if (results.isEmpty() || !(results.getFirst() instanceof Tensor t))
            throw new IllegalStateException(name + " returned " + results + ", not a tensor first");
        return t;
    }

    private void box(ThreadState state, MemorySegment v, Object arg, int index) {
        switch (arg) {
            case null -> psd_value.tag(v, PSD_VALUE_NONE());
            case Tensor t -> {
                psd_value.tag(v, PSD_VALUE_TENSOR());
                psd_value.tensor(v, t.handle());
            }
            case Long l -> integer(v, l);
            case Integer i -> integer(v, i);
            case Double d -> real(v, d);
            case Float f -> real(v, f);
            case Boolean b -> {
                psd_value.tag(v, PSD_VALUE_BOOL());
                psd_value.i(v, b ? 1 : 0);
            }
            case long[] longs -> intList(state, v, longs);
            case int[] ints -> intList(state, v, java.util.Arrays.stream(ints).asLongStream().toArray());
            case DType d -> {
                psd_value.tag(v, PSD_VALUE_SCALAR_TYPE());
                psd_value.i(v, d.code());
            }
            case String s -> {
                MemorySegment text = state.allocate(s.length() * 3L + 1);
                text.setString(0, s);
                psd_value.tag(v, PSD_VALUE_STRING());
                psd_value.str(v, text);
            }
            case Tensor[] tensors -> tensorList(state, v, tensors);
            case List<?> list when list.stream().allMatch(e -> e instanceof Tensor) -> tensorList(state, v, list.toArray(Tensor[]::new));
            default -> throw new IllegalArgumentException(name + " argument " + index + ": cannot pass a " + arg.getClass().getName());
        }
    }

    private static void integer(MemorySegment v, long value) {
        psd_value.tag(v, PSD_VALUE_INT());
        psd_value.i(v, value);
    }

    private static void real(MemorySegment v, double value) {
        psd_value.tag(v, PSD_VALUE_DOUBLE());
        psd_value.d(v, value);
    }

    private static void intList(ThreadState state, MemorySegment v, long[] values) {
        psd_value.tag(v, PSD_VALUE_INT_LIST());
        psd_value.ints(v, values.length == 0 ? state.allocate(8) : state.longs(values));
        psd_value.len(v, values.length);
    }

    private static void tensorList(ThreadState state, MemorySegment v, Tensor[] tensors) {
        psd_value.tag(v, PSD_VALUE_TENSOR_LIST());
        psd_value.tensors(v, Tensor.handles(state, tensors));
        psd_value.len(v, tensors.length);
    }

    /** A result value; a tensor comes back as its raw handle, adopted by the caller. */
    private static Object unbox(MemorySegment v) {
        int tag = psd_value.tag(v);
        if (tag == PSD_VALUE_TENSOR()) return psd_value.tensor(v);
        if (tag == PSD_VALUE_INT() || tag == PSD_VALUE_SCALAR_TYPE()) return psd_value.i(v);
        if (tag == PSD_VALUE_DOUBLE()) return psd_value.d(v);
        if (tag == PSD_VALUE_BOOL()) return psd_value.i(v) != 0;
        if (tag == PSD_VALUE_INT_LIST()) return psd_value.ints(v).reinterpret(8 * psd_value.len(v)).toArray(ValueLayout.JAVA_LONG);
        if (tag == PSD_VALUE_STRING()) return psd_value.str(v).reinterpret(Long.MAX_VALUE).getString(0);
        return null;
    }

    @Override
    public String toString() {
        return "Op[" + name + "]";
    }
}
