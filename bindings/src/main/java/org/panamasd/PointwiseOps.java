package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;

/**
 * Elementwise arithmetic (tensor and scalar operands, with broadcasting), comparisons, clamping and unary math. One
 * family of {@link Tensor}'s operations, each a call of one shim function whose result is a new tensor in the current
 * scope; {@link Tensor} implements every family.
 */
public sealed interface PointwiseOps permits Tensor {
    /** The native handle (see {@link Tensor#handle()}). */
    MemorySegment handle();

    default Tensor add(Tensor other) {
        // written out rather than through Tensor.produce(): the most frequent op, and the bridge benchmark's
        MemorySegment a = handle(), b = other.handle();
        ThreadState state = ThreadState.get().reset();
        MemorySegment ret = state.pointer();
        long start = OpHooks.active != 0 ? OpHooks.before("psd_tensor_add") : 0;
        int status = psd_tensor_add(a, b, 1.0, ret);
        if (start != 0) OpTimes.record("psd_tensor_add", start);
        if (status != 0) throw Native.failure(status, "psd_tensor_add");
        state.unpinAll();
        return Tensor.adopt(state, ret.get(ValueLayout.JAVA_LONG, 0));
    }

    /** this + alpha * other */
    default Tensor add(Tensor other, double alpha) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_add", (s, r) -> psd_tensor_add(a, b, alpha, r));
    }

    default Tensor sub(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_sub", (s, r) -> psd_tensor_sub(a, b, 1.0, r));
    }

    default Tensor mul(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_mul", (s, r) -> psd_tensor_mul(a, b, r));
    }

    default Tensor div(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_div", (s, r) -> psd_tensor_div(a, b, r));
    }

    default Tensor pow(Tensor exponent) {
        MemorySegment a = handle(), b = exponent.handle();
        return Tensor.produce("psd_tensor_pow", (s, r) -> psd_tensor_pow(a, b, r));
    }

    default Tensor maximum(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_maximum", (s, r) -> psd_tensor_maximum(a, b, r));
    }

    default Tensor minimum(Tensor other) {
        MemorySegment a = handle(), b = other.handle();
        return Tensor.produce("psd_tensor_minimum", (s, r) -> psd_tensor_minimum(a, b, r));
    }

    default Tensor add(double value) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_add_scalar", (s, r) -> psd_tensor_add_scalar(a, value, r));
    }

    default Tensor sub(double value) {
        return add(-value);
    }

    default Tensor mul(double value) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_mul_scalar", (s, r) -> psd_tensor_mul_scalar(a, value, r));
    }

    default Tensor div(double value) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_div_scalar", (s, r) -> psd_tensor_div_scalar(a, value, r));
    }

    default Tensor pow(double exponent) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_pow_scalar", (s, r) -> psd_tensor_pow_scalar(a, exponent, r));
    }

    /** value - this */
    default Tensor rsub(double value) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_rsub_scalar", (s, r) -> psd_tensor_rsub_scalar(a, value, r));
    }

    default Tensor eq(Tensor o) { MemorySegment a = handle(), b = o.handle(); return Tensor.produce("psd_tensor_eq", (s, r) -> psd_tensor_eq(a, b, r)); }
    default Tensor ne(Tensor o) { MemorySegment a = handle(), b = o.handle(); return Tensor.produce("psd_tensor_ne", (s, r) -> psd_tensor_ne(a, b, r)); }
    default Tensor lt(Tensor o) { MemorySegment a = handle(), b = o.handle(); return Tensor.produce("psd_tensor_lt", (s, r) -> psd_tensor_lt(a, b, r)); }
    default Tensor le(Tensor o) { MemorySegment a = handle(), b = o.handle(); return Tensor.produce("psd_tensor_le", (s, r) -> psd_tensor_le(a, b, r)); }
    default Tensor gt(Tensor o) { MemorySegment a = handle(), b = o.handle(); return Tensor.produce("psd_tensor_gt", (s, r) -> psd_tensor_gt(a, b, r)); }
    default Tensor ge(Tensor o) { MemorySegment a = handle(), b = o.handle(); return Tensor.produce("psd_tensor_ge", (s, r) -> psd_tensor_ge(a, b, r)); }
    default Tensor eq(double v) { MemorySegment a = handle(); return Tensor.produce("psd_tensor_eq_scalar", (s, r) -> psd_tensor_eq_scalar(a, v, r)); }
    default Tensor ne(double v) { MemorySegment a = handle(); return Tensor.produce("psd_tensor_ne_scalar", (s, r) -> psd_tensor_ne_scalar(a, v, r)); }
    default Tensor lt(double v) { MemorySegment a = handle(); return Tensor.produce("psd_tensor_lt_scalar", (s, r) -> psd_tensor_lt_scalar(a, v, r)); }
    default Tensor le(double v) { MemorySegment a = handle(); return Tensor.produce("psd_tensor_le_scalar", (s, r) -> psd_tensor_le_scalar(a, v, r)); }
    default Tensor gt(double v) { MemorySegment a = handle(); return Tensor.produce("psd_tensor_gt_scalar", (s, r) -> psd_tensor_gt_scalar(a, v, r)); }
    default Tensor ge(double v) { MemorySegment a = handle(); return Tensor.produce("psd_tensor_ge_scalar", (s, r) -> psd_tensor_ge_scalar(a, v, r)); }

    default Tensor clamp(double min, double max) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_clamp", (s, r) -> psd_tensor_clamp(a, true, min, true, max, r));
    }

    default Tensor clampMin(double min) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_clamp", (s, r) -> psd_tensor_clamp(a, true, min, false, 0, r));
    }

    default Tensor clampMax(double max) {
        MemorySegment a = handle();
        return Tensor.produce("psd_tensor_clamp", (s, r) -> psd_tensor_clamp(a, false, 0, true, max, r));
    }

    default Tensor neg() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_neg", (s, r) -> psd_tensor_neg(a, r)); }
    default Tensor exp() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_exp", (s, r) -> psd_tensor_exp(a, r)); }
    default Tensor log() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_log", (s, r) -> psd_tensor_log(a, r)); }
    default Tensor sqrt() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_sqrt", (s, r) -> psd_tensor_sqrt(a, r)); }
    default Tensor rsqrt() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_rsqrt", (s, r) -> psd_tensor_rsqrt(a, r)); }
    default Tensor abs() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_abs", (s, r) -> psd_tensor_abs(a, r)); }
    default Tensor sin() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_sin", (s, r) -> psd_tensor_sin(a, r)); }
    default Tensor cos() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_cos", (s, r) -> psd_tensor_cos(a, r)); }
    default Tensor reciprocal() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_reciprocal", (s, r) -> psd_tensor_reciprocal(a, r)); }
    default Tensor floor() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_floor", (s, r) -> psd_tensor_floor(a, r)); }
    default Tensor round() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_round", (s, r) -> psd_tensor_round(a, r)); }
    default Tensor sign() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_sign", (s, r) -> psd_tensor_sign(a, r)); }
    default Tensor logicalNot() { MemorySegment a = handle(); return Tensor.produce("psd_tensor_logical_not", (s, r) -> psd_tensor_logical_not(a, r)); }
}
