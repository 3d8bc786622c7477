package org.panamasd;

import static org.panamasd.internal.panamasd_h.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.panamasd.internal.Native;
import org.panamasd.internal.ThreadState;

/** Gradients beyond {@link Tensor#backward()}: torch.autograd.grad, and grad / inference modes (per thread). */
public final class Autograd {

    /**
     * Gradients of {@code outputs} with respect to {@code inputs} (torch.autograd.grad). With
     * {@code createGraph} the gradients are themselves differentiable, as a gradient penalty needs.
     *
     * @param gradOutputs the vector in the vector-Jacobian product, one per output; null for scalar outputs
     * @return one gradient per input; null for an input the outputs do not depend on when allowUnused
     */
    public static Tensor[] grad(List<Tensor> outputs, List<Tensor> inputs, List<Tensor> gradOutputs,
                                boolean retainGraph, boolean createGraph, boolean allowUnused) {
        if (gradOutputs != null && gradOutputs.size() != outputs.size())
            throw new IllegalArgumentException(outputs.size() + " outputs but " + gradOutputs.size() + " grad outputs");
        Scope.current();  // the gradients need an owner: fail before any handle is made
        ThreadState state = ThreadState.get().reset();
        MemorySegment outs = Tensor.handles(state, outputs.toArray(Tensor[]::new));
        MemorySegment ins = Tensor.handles(state, inputs.toArray(Tensor[]::new));
        MemorySegment seeds = gradOutputs == null ? MemorySegment.NULL : Tensor.handles(state, gradOutputs.toArray(Tensor[]::new));
        MemorySegment ret = state.allocate(8L * Math.max(1, inputs.size()));
        ret.fill((byte) 0);
        Native.check(psd_autograd_grad(outs, outputs.size(), ins, inputs.size(), seeds, retainGraph, createGraph, allowUnused, ret),
                "psd_autograd_grad");
        return Tensor.adoptAll(state, ret, inputs.size());
    }

    /** d(output)/d(inputs) for a scalar output. */
    public static Tensor[] grad(Tensor output, List<Tensor> inputs, boolean createGraph) {
        return grad(List.of(output), inputs, null, createGraph, createGraph, false);
    }

    public static boolean isGradEnabled() {
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().allocate(1);
        Native.check(psd_autograd_is_grad_enabled(ret), "psd_autograd_is_grad_enabled");
        return ret.get(ValueLayout.JAVA_BOOLEAN, 0);
    }

    /** A region of this thread without gradient recording; closing it restores the previous mode. */
    public static Region noGrad() {
        return setGradEnabled(false);
    }

    public static Region enableGrad() {
        return setGradEnabled(true);
    }

    /**
     * Grad and inference mode are libtorch state of the OS thread. A virtual thread can continue on another
     * carrier after any blocking call inside the region, where the mode would silently be another one (and
     * the carrier it left would keep ours), so regions are refused there.
     */
    private static void refuseVirtual(String region) {
        if (Thread.currentThread().isVirtual())
            throw new IllegalStateException("Autograd." + region + "() on virtual thread " + Thread.currentThread()
                    + ": grad and inference mode belong to the OS carrier thread, which a virtual thread can change at any"
                    + " blocking call; run model code on platform threads (for example a fixed pool) and hand results to virtual threads");
    }

    private static Region setGradEnabled(boolean enabled) {
        refuseVirtual(enabled ? "enableGrad" : "noGrad");
        Native.ensureLoaded();
        MemorySegment previous = ThreadState.get().reset().allocate(1);
        Native.check(psd_autograd_set_grad_enabled(enabled, previous), "psd_autograd_set_grad_enabled");
        boolean restore = previous.get(ValueLayout.JAVA_BOOLEAN, 0);
        return () -> Native.check(psd_autograd_set_grad_enabled(restore, MemorySegment.NULL), "psd_autograd_set_grad_enabled");
    }

    /** Inference mode on this thread (no autograd bookkeeping at all) until closed, innermost first. */
    public static Region inferenceMode() {
        refuseVirtual("inferenceMode");
        Native.ensureLoaded();
        MemorySegment ret = ThreadState.get().reset().pointer();
        Native.check(psd_inference_mode_enter(ret), "psd_inference_mode_enter");
        MemorySegment guard = ret.get(ValueLayout.ADDRESS, 0);
        Thread owner = Thread.currentThread();
        return () -> {
            if (Thread.currentThread() != owner) throw new WrongThreadException("inference mode must end on the thread that began it");
            Native.check(psd_inference_mode_exit_v2(guard), "psd_inference_mode_exit_v2");
        };
    }

    /** A per-thread mode region; closing it ends the mode. */
    @FunctionalInterface
    public interface Region extends AutoCloseable {
        @Override
        void close();
    }

    private Autograd() {}
}
