package org.panamasd.training;

import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.Scope;
import org.panamasd.Tensor;

/**
 * An exponential moving average of a model's parameters (Polyak averaging): shadow = d shadow + (1 - d) p
 * after every optimiser step. The shadow copies live in a scope of their own and keep the parameters' keys,
 * so they are saved as a checkpoint of the same model.
 */
public final class Ema implements AutoCloseable {
    private final Map<String, Tensor> source;
    private final Map<String, Tensor> shadow = new LinkedHashMap<>();
    private final Scope scope = Scope.detached();
    private final double decay;

    public Ema(Map<String, Tensor> parameters, double decay) {
        if (!(decay >= 0 && decay < 1)) throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + decay);
        this.source = parameters;
        this.decay = decay;
        try (Scope init = Scope.open(); var frozen = Autograd.noGrad()) {
            parameters.forEach((key, p) -> shadow.put(key, p.detach().copy().moveTo(scope)));
        }
    }

    /** One averaging step, with the decay warmed up as min(decay, (1 + n) / (10 + n)) so early weights fade fast. */
    public void update(long step) {
        blend(shadow, source, Math.min(decay, (1.0 + step) / (10.0 + step)));
    }

    /**
     * average <- d average + (1 - d) source, key by key, in place: the EMA step itself, also for a model whose
     * weights are the average (DINO's momentum teacher).
     */
    public static void blend(Map<String, Tensor> average, Map<String, Tensor> source, double d) {
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            source.forEach((key, p) -> {
                Tensor avg = average.get(key);
                if (avg == null) throw new IllegalArgumentException("the average has no '" + key + "'");
                avg.copyFrom(avg.mul(d).add(p.detach(), 1 - d));
            });
        }
    }

    /** The averaged parameters by key. */
    public Map<String, Tensor> shadow() {
        return java.util.Collections.unmodifiableMap(shadow);
    }

    /** Overwrites the averages (resuming from a checkpoint). */
    public void load(Map<String, Tensor> values) {
        try (Scope s = Scope.open(); var frozen = Autograd.noGrad()) {
            shadow.forEach((key, avg) -> {
                Tensor v = values.get(key);
                if (v == null) throw new IllegalArgumentException("EMA checkpoint has no '" + key + "'");
                avg.copyFrom(v);
            });
        }
    }

    @Override
    public void close() {
        scope.close();
    }
}
