package org.panamasd.training;

import java.util.Map;
import org.panamasd.Tensor;

/**
 * What a trainer's optimiser updates, by key (also what its EMA averages and its checkpoint stores), and what has
 * to happen around each step when these are not the model's own weights but reach the model through them (a
 * LoRA's matrices, {@link org.panamasd.training.lora.TrainableLora}): the model's weights follow the parameters before
 * the forward pass, and the gradients that backward left on the weights reach the parameters after it.
 */
public interface TrainedParameters {

    Map<String, Tensor> parameters();

    /** Before the forward pass: the model's weights follow the parameters. */
    default void beforeForward() {}

    /** After backward, before any gradient is read (clipping, all-reduce, the optimiser step). */
    default void afterBackward() {}

    /** A model's own weights, trained directly: nothing to do around a step. */
    static TrainedParameters weights(Map<String, Tensor> weights) {
        return () -> weights;
    }
}
