package org.panamasd.nn;

/** Weights that own their tensors: closing the store frees every parameter it handed out. */
public interface ParameterStore extends Weights, AutoCloseable {

    /** Every parameter handed out so far, by state-dict key. */
    java.util.Map<String, org.panamasd.Tensor> parameters();

    /** Where the parameters are (a model's device): the first one's, or the CPU for none. */
    default org.panamasd.Device device() {
        var all = parameters().values().iterator();
        return all.hasNext() ? all.next().device() : org.panamasd.Device.CPU;
    }

    /** The dtype the model computes in: its floating-point parameters' (the first one's), float32 for none. */
    default org.panamasd.DType dtype() {
        for (org.panamasd.Tensor t : parameters().values()) if (t.dtype().isFloatingPoint()) return t.dtype();
        return org.panamasd.DType.FLOAT32;
    }

    @Override
    void close();
}
