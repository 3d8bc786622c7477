package org.panamasd.golden;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.schedulers.NoiseSource;

/**
 * Replays what the reference drew, in order: single tensors (a VAE sample's noise) and stacks of one tensor
 * per draw (a run's scheduler noise). A stack the case does not have (a run whose scheduler draws nothing has
 * no {@code <run>.scheduler_noise}) contributes no draws. Drawing more than was recorded, or a tensor of another
 * shape, fails naming the draw.
 */
final class RecordedNoise implements NoiseSource {
    private final String what;
    private final List<Tensor> draws = new ArrayList<>();
    private int next;

    RecordedNoise(String what) {
        this.what = what;
    }

    /** One recorded draw. */
    RecordedNoise single(SafeTensors file, String key) {
        draws.add(file.tensor(key));
        return this;
    }

    /** Every row of the stack under {@code key}, or nothing when the case has no such key. */
    RecordedNoise stackIfPresent(SafeTensors file, String key) {
        if (!file.contains(key)) return this;
        Tensor stack = file.tensor(key);
        for (long i = 0; i < stack.size(0); i++) draws.add(stack.get(i));
        return this;
    }

    @Override
    public Tensor next(long[] shape, DType dtype, Device device) {
        if (next >= draws.size())
            throw new AssertionError(what + ": draw " + (next + 1) + " of shape " + Arrays.toString(shape) + ", the reference drew only " + draws.size());
        Tensor t = draws.get(next);
        if (!Arrays.equals(t.shape(), shape))
            throw new AssertionError(what + ": draw " + (next + 1) + " has shape " + Arrays.toString(shape) + ", the reference's " + Arrays.toString(t.shape()));
        next++;
        return t.to(dtype).to(device);
    }

    int drawn() {
        return next;
    }

    /** Fails unless every recorded draw was used. */
    void assertAllUsed() {
        if (next != draws.size()) throw new AssertionError(what + ": " + next + " draws, the reference drew " + draws.size());
    }
}
