package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.panamasd.Autograd;
import org.panamasd.nn.Chain;
import org.panamasd.DType;
import org.panamasd.Functional;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/** The memory model's rules for model code: a scope per forward, chains that free what they replace, in-place temporaries. */
class ModuleScopeTest extends NativeTest {

    @Test
    void aForwardInItsOwnScopeLeavesOnlyItsResult() {
        try (Scope caller = Scope.open()) {
            Tensor x = Tensor.ones(4);
            long before = caller.liveTensors();
            Tensor y = Scope.returning(() -> x.mul(2f).add(1f).mul(x));  // two temporaries inside
            assertEquals(before + 1, caller.liveTensors());
            assertSame(caller, y.scope());
            assertEquals(12.0, y.sum().item());
        }
    }

    @Test
    void aResultTheBodyDidNotMakeStaysWithItsOwner() {
        try (Scope outer = Scope.open()) {
            Tensor weight = Tensor.ones(3);
            try (Scope inner = Scope.open()) {
                Tensor same = Scope.returning(() -> {
                    weight.mul(2f);  // a temporary, freed
                    return weight;
                });
                assertSame(weight, same);
                assertSame(outer, weight.scope());  // not pulled down into the inner scope
                assertEquals(0, inner.liveTensors());
            }
            assertTrue(weight.isOpen());
        }
    }

    @Test
    void aForwardWithoutAnOpenScopeSaysSo() throws Exception {
        long before = MemoryStats.liveTensorCount();
        Throwable[] thrown = new Throwable[1];
        Thread bare = Thread.ofPlatform().name("bare").start(() -> {  // a thread that never opened a scope
            try {
                Scope.returning(() -> Tensor.ones(2));
            } catch (Throwable t) {
                thrown[0] = t;
            }
        });
        bare.join();
        assertInstanceOf(IllegalStateException.class, thrown[0]);
        assertTrue(thrown[0].getMessage().contains("no open Scope"), thrown[0].getMessage());
        assertEquals(before, MemoryStats.liveTensorCount(), "nothing made, nothing left");
    }

    @Test
    void aFailingForwardFreesItsTemporariesAndRestoresTheScope() {
        try (Scope caller = Scope.open()) {
            long before = MemoryStats.liveTensorCount();
            assertThrows(IllegalArgumentException.class, () -> Scope.returning(() -> {
                Tensor.ones(8).mul(3f);
                throw new IllegalArgumentException("shape");
            }));
            assertEquals(before, MemoryStats.liveTensorCount());
            assertSame(caller, Scope.current());
        }
    }

    @Test
    void aChainFreesEachReplacedValueButNotItsStartOrAShareOfAValue() {
        try (Scope caller = Scope.open()) {
            Tensor input = Tensor.ones(5);
            long before = caller.liveTensors();
            Tensor[] seen = new Tensor[3];
            Chain x = Chain.from(input);
            x.then(t -> seen[0] = t.mul(2f));
            Tensor recorded = x.get().share();  // a second handle, as Intermediates records
            x.then(t -> seen[1] = t.add(1f).mul(t));  // t * (t + 1): the add is a stage temporary
            x.then(t -> seen[2] = t.sub(2f));
            assertTrue(input.isOpen(), "the caller's input");
            assertFalse(seen[0].isOpen(), "replaced");
            assertFalse(seen[1].isOpen(), "replaced");
            assertSame(seen[2], x.get());
            assertTrue(recorded.isOpen());
            assertEquals(before + 2, caller.liveTensors(), "the last value and the share");
            assertEquals(5 * 2.0, recorded.sum().item(), "a share keeps the values after the chain freed its handle");
            assertEquals(5 * 4.0, x.get().sum().item());
        }
    }

    @Test
    void groupNormSiluEqualsTheTwoOpsAndKeepsItsGradient() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.arange(0, 2 * 4 * 3 * 3, 1, DType.FLOAT32).reshape(2, 4, 3, 3).div(7f).sin();
            Tensor w = Tensor.ones(4).mul(1.5f), b = Tensor.ones(4).mul(-0.25f);
            double[] expected = Functional.groupNorm(x, 2, w, b, 1e-5).silu().toDoubleArray();
            try (var off = Autograd.noGrad()) {
                assertClose(expected, Functional.groupNormSilu(x, 2, w, b, 1e-5).toDoubleArray(), 1e-6, 1e-6);
            }
            // with a graph the SiLU may not overwrite the norm's output: the gradient must match the two ops'
            Tensor leaf = x.detach().requiresGrad(true);
            Tensor[] fused = Autograd.grad(Functional.groupNormSilu(leaf, 2, w, b, 1e-5).pow(2f).sum(), List.of(leaf), false);
            Tensor[] twoOps = Autograd.grad(Functional.groupNorm(leaf, 2, w, b, 1e-5).silu().pow(2f).sum(), List.of(leaf), false);
            assertClose(twoOps[0].toDoubleArray(), fused[0].toDoubleArray(), 1e-6, 1e-5);
        }
    }

    @Test
    void addInPlaceAddsIntoTheTensorItself() {
        try (Scope s = Scope.open()) {
            Tensor h = Tensor.ones(2, 3);
            Tensor same = h.addInPlace(Tensor.arange(0, 3, 1, DType.FLOAT32), 2);
            assertSame(h, same);
            assertArrayEquals(new double[] {1, 3, 5, 1, 3, 5}, h.toDoubleArray());
        }
    }
}
