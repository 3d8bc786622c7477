package org.panamasd.optim;

import static org.panamasd.internal.panamasd_h.*;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.panamasd.Tensor;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;

/**
 * SGD, Adam and AdamW over a parameter list (libtorch's C++ implementations), with state that saves
 * to and loads from a file.
 */
public final class Optimizer implements AutoCloseable {
    private volatile MemorySegment handle;
    private final java.lang.ref.Cleaner.Cleanable cleanable;  // frees the optimizer if it is dropped unclosed

    private Optimizer(MemorySegment handle) {
        this.handle = handle;
        this.cleanable = org.panamasd.Reclaim.register(this, "Optimizer", () -> psd_optim_free(handle));
    }

    private interface Create {
        int invoke(MemorySegment params, long count, MemorySegment ret);
    }

    private static Optimizer create(String name, List<Tensor> params, Create create) {
        if (params.isEmpty()) throw new IllegalArgumentException(name + " needs at least one parameter");
        ThreadState state = ThreadState.get().reset();
        MemorySegment array = state.allocate(8L * params.size());
        for (int i = 0; i < params.size(); i++) array.setAtIndex(ValueLayout.ADDRESS, i, params.get(i).handle());
        MemorySegment ret = state.pointer();
        Native.check(create.invoke(array, params.size(), ret), name);
        return new Optimizer(ret.get(ValueLayout.ADDRESS, 0));
    }

    public static Optimizer sgd(List<Tensor> params, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        return create("psd_optim_sgd_new", params, (p, n, r) -> psd_optim_sgd_new(p, n, lr, momentum, dampening, weightDecay, nesterov, r));
    }

    public static Optimizer adam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
        return create("psd_optim_adam_new", params, (p, n, r) -> psd_optim_adam_new(p, n, lr, beta1, beta2, eps, weightDecay, amsgrad, r));
    }

    public static Optimizer adam(List<Tensor> params, double lr) {
        return adam(params, lr, 0.9, 0.999, 1e-8, 0, false);
    }

    public static Optimizer adamW(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
        return create("psd_optim_adamw_new", params, (p, n, r) -> psd_optim_adamw_new(p, n, lr, beta1, beta2, eps, weightDecay, amsgrad, r));
    }

    private MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("optimizer is closed");
        return handle;
    }

    public void step() {
        Native.check(psd_optim_step(handle()), "psd_optim_step");
    }

    public void zeroGrad() {
        Native.check(psd_optim_zero_grad(handle()), "psd_optim_zero_grad");
    }

    public void setLearningRate(double lr) {
        Native.check(psd_optim_set_lr(handle(), lr), "psd_optim_set_lr");
    }

    /** Writes the state to a temporary file beside {@code path} and moves it into place, so no half-written file is left. */
    public void save(Path path) {
        Path target = path.toAbsolutePath();
        try {
            Path temporary = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".tmp");
            try (Arena arena = Arena.ofConfined()) {
                Native.check(psd_optim_save(handle(), arena.allocateFrom(temporary.toString())), "psd_optim_save(" + path + ")");
                Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(temporary);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save optimizer state to " + path, e);
        }
    }

    public void load(Path path) {
        if (!Files.isRegularFile(path)) throw new IllegalArgumentException("optimizer state " + path + " is not a file");
        try (Arena arena = Arena.ofConfined()) {
            Native.check(psd_optim_load(handle(), arena.allocateFrom(path.toAbsolutePath().toString())), "psd_optim_load(" + path + ")");
        }
    }

    /** Scales gradients in place so their total norm is at most maxNorm; returns the norm before clipping. */
    public static double clipGradNorm(List<Tensor> params, double maxNorm, double normType) {
        ThreadState state = ThreadState.get().reset();
        MemorySegment array = state.allocate(8L * Math.max(1, params.size()));
        for (int i = 0; i < params.size(); i++) array.setAtIndex(ValueLayout.ADDRESS, i, params.get(i).handle());
        MemorySegment total = state.allocate(8);
        Native.check(psd_optim_clip_grad_norm(array, params.size(), maxNorm, normType, total), "psd_optim_clip_grad_norm");
        return total.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    @Override
    public synchronized void close() {
        if (handle != null) cleanable.clean();
        handle = null;
    }
}
