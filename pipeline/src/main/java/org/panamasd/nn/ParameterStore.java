package org.panamasd.nn;

/** Weights that own their tensors: closing the store frees every parameter it handed out. */
public interface ParameterStore extends Weights, AutoCloseable {

    /** Every parameter handed out so far, by state-dict key. */
    java.util.Map<String, org.panamasd.Tensor> parameters();

    @Override
    void close();
}
