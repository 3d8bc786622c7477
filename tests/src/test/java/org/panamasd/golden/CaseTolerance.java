package org.panamasd.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Tensor;

/**
 * How a model case's tensors are compared when the model computes in {@code dtype}: in float32 within the case's
 * own tolerance (case.json); in bfloat16 within {@link Bfloat16Tolerance}'s bounds, and then the model's outputs
 * must also be far enough from the reference to show that bfloat16 was applied. Either way the weights are in
 * {@code dtype} and the outputs float32.
 */
record CaseTolerance(GoldenCase c, DType dtype) {
    CaseTolerance {
        if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16) throw new IllegalArgumentException("no golden tolerance for " + dtype);
    }

    /** A model's parameters, after the load. */
    void weights(Map<String, Tensor> parameters) {
        Bfloat16Tolerance.assertWeightsIn(dtype, parameters);
    }

    /** An intermediate (a block's output, a hidden state), in whatever dtype the model made it. */
    void intermediate(String what, Tensor expected, Tensor got) {
        if (dtype == DType.FLOAT32) Compare.tensors(what, expected, got, c.atol(), c.rtol());
        else Bfloat16Tolerance.check(c.name() + " " + what, expected, got);
    }

    /** A model output: float32, whatever the model computes in. */
    void output(String what, Tensor expected, Tensor got) {
        assertEquals(DType.FLOAT32, got.dtype(), what + ": the dtype a model hands back");
        if (dtype == DType.FLOAT32) Compare.tensors(what, expected, got, c.atol(), c.rtol());
        else Bfloat16Tolerance.checkApplied(c.name() + " " + what, expected, got);
    }
}
