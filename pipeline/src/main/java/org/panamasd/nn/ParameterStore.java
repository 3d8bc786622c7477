package org.panamasd.nn;

/** Weights that own their tensors: closing the store frees every parameter it handed out. */
public interface ParameterStore extends Weights, AutoCloseable {

    @Override
    void close();
}
