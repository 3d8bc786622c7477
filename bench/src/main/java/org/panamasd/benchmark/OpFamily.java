package org.panamasd.benchmark;

import java.util.Set;

/**
 * The op families of a time profile, from the name of a native call ({@code psd_tensor_conv2d}, or a boxed
 * operator's {@code aten::name}). Attention is the attention op itself plus the batched products and softmax
 * that the model code uses only inside attention (q kᵀ, its softmax, the weighted sum of v), so a chunked
 * attention written from those ops still counts as attention; its q, k, v and out projections are linear.
 */
public enum OpFamily {
    CONV("conv"), MATMUL("matmul/linear"), ATTENTION("attention"), NORM("norm"), ELEMENTWISE("elementwise"), OTHER("other");

    private static final Set<String> ELEMENTWISE_OPS = Set.of("add", "add_scalar", "sub", "mul", "mul_scalar", "div", "div_scalar", "pow",
            "pow_scalar", "rsub_scalar", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "tanh", "sigmoid", "silu",
            "gelu", "relu", "leaky_relu", "clamp", "maximum", "minimum", "where", "sign", "floor", "round", "eq", "ne", "lt", "le", "gt", "ge",
            "eq_scalar", "ne_scalar", "lt_scalar", "le_scalar", "gt_scalar", "ge_scalar", "logical_not", "dropout");

    public final String label;

    OpFamily(String label) {
        this.label = label;
    }

    public static OpFamily of(String callName) {
        String op = callName.startsWith("psd_tensor_") ? callName.substring("psd_tensor_".length())
                : callName.startsWith("aten::") ? callName.substring("aten::".length()) : callName;
        int overload = op.indexOf('.');
        if (overload >= 0) op = op.substring(0, overload);
        if (op.endsWith("_") && !op.equals("_")) op = op.substring(0, op.length() - 1);  // in-place variants
        if (op.startsWith("conv") || op.equals("_convolution") || op.equals("mkldnn_convolution")) return CONV;
        if (op.contains("attention") || op.equals("bmm") || op.equals("baddbmm") || op.equals("softmax") || op.equals("_softmax")) return ATTENTION;
        if (op.equals("linear") || op.equals("matmul") || op.equals("mm") || op.equals("addmm")) return MATMUL;
        if (op.endsWith("_norm") || op.equals("native_group_norm") || op.equals("native_layer_norm")) return NORM;
        if (ELEMENTWISE_OPS.contains(op)) return ELEMENTWISE;
        return OTHER;
    }
}
