package org.panamasd.nn;

import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * Freshly initialised parameters, for training from scratch and for benchmarks: norm scales 1, biases 0,
 * other weights N(0, 1 / fan_in) (fan_in = all dims but the first), drawn from a seeded generator. The
 * tensors belong to {@link #scope()}; they require gradients, and {@link #parameters()} lists them by key.
 */
public final class RandomWeights implements ParameterStore {
    private final Generator generator;
    private final Scope scope = Scope.detached();
    private final java.util.Map<String, Tensor> parameters = new java.util.LinkedHashMap<>();

    public RandomWeights(long seed) {
        this.generator = new Generator(seed);
    }

    @Override
    public Tensor get(String key, long... shape) {
        try (Scope init = Scope.open()) {
            Tensor t;
            if (key.endsWith(".bias")) t = Tensor.zeros(shape);
            else if (shape.length == 1) t = Tensor.ones(shape);  // a norm's scale
            else {
                long fanIn = 1;
                for (int i = 1; i < shape.length; i++) fanIn *= shape[i];
                t = Tensor.randn(generator, shape).mul(1 / Math.sqrt(fanIn));
            }
            Tensor parameter = t.moveTo(scope).requiresGrad(true);
            if (parameters.putIfAbsent(key, parameter) != null) throw new IllegalArgumentException("parameter '" + key + "' is requested twice");
            return parameter;
        }
    }

    /** Every parameter handed out, by state-dict key, in creation order. */
    public java.util.Map<String, Tensor> parameters() {
        return java.util.Collections.unmodifiableMap(parameters);
    }

    public Scope scope() {
        return scope;
    }

    @Override
    public void close() {
        scope.close();
        generator.close();
    }
}
