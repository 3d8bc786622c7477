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

    @Override
    void close();
}
