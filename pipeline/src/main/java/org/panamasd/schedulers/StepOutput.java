package org.panamasd.schedulers;

import org.panamasd.Tensor;

/**
 * The result of one scheduler step: x_{t-1}, and the model's estimate of x_0 at this step (null where the
 * reference scheduler does not return one). Both live in the scope that was current during the step.
 */
public record StepOutput(Tensor prevSample, Tensor predOriginalSample) {}
