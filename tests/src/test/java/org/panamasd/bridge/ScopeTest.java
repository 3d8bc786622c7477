package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

class ScopeTest extends NativeTest {

    @Test
    void useAfterCloseThrowsInsteadOfCrashing() {
        Tensor t;
        try (Scope scope = Scope.open()) {
            t = Tensor.ones(3);
        }
        assertFalse(t.isOpen());
        assertThrows(IllegalStateException.class, t::sum);
        assertThrows(IllegalStateException.class, () -> t.data());
        assertEquals("Tensor[closed]", t.toString());
        try (Scope scope = Scope.open()) {
            Tensor u = Tensor.ones(3);
            u.close();
            u.close();  // idempotent
            assertThrows(IllegalStateException.class, () -> u.add(u));
            assertThrows(IllegalStateException.class, () -> Tensor.ones(3).add(u));
        }
    }

    @Test
    void closingAScopeFreesItsTensorsAndChainedTemporaries() {
        long before = MemoryStats.liveTensorCount();
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.ones(4);
            Tensor y = x.add(x).mul(2f).sub(1f);  // two temporaries
            assertEquals(4 * 3.0, y.sum().item());
            assertEquals(5, scope.liveTensors());
            assertEquals(before + 5, MemoryStats.liveTensorCount());
        }
        assertEquals(before, MemoryStats.liveTensorCount());
    }

    @Test
    void aTensorMovesOutToTheEnclosingScope() {
        try (Scope outer = Scope.open()) {
            Tensor kept;
            try (Scope inner = Scope.open()) {
                Tensor temporary = Tensor.ones(2);
                kept = temporary.mul(3f).moveToParent();
                assertSame(outer, kept.scope());
                assertEquals(1, inner.liveTensors());
            }
            assertTrue(kept.isOpen());
            assertEquals(6.0, kept.sum().item());
            assertEquals(2, outer.liveTensors());
        }
    }

    @Test
    void closingAnOuterScopeClosesTheInnerOnes() {
        Scope outer = Scope.open();
        Scope inner = Scope.open();
        Tensor t = Tensor.ones(1);
        outer.close();
        assertFalse(inner.isOpen());
        assertFalse(t.isOpen());
        assertThrows(IllegalStateException.class, Scope::current);
    }

    @Test
    void anOpWithoutAScopeFailsAndLeaksNothing() {
        long before = MemoryStats.liveTensorCount();
        var e = assertThrows(IllegalStateException.class, () -> Tensor.ones(2));
        assertTrue(e.getMessage().contains("Scope.open()"), e.getMessage());
        assertEquals(before, MemoryStats.liveTensorCount());
    }

    @Test
    void aScopeIsConfinedToItsThread() throws Exception {
        try (Scope scope = Scope.open(); var pool = Executors.newSingleThreadExecutor()) {
            Tensor t = Tensor.ones(1);
            var failure = pool.submit(() -> assertThrows(WrongThreadException.class, t::close)).get();
            assertNotNull(failure);
            var other = pool.submit(() -> {
                try (Scope own = Scope.open()) {
                    return t.add(t).sum().item();  // reading a tensor of another thread's scope is fine
                }
            }).get();
            assertEquals(2.0, other);
        }
    }

    @Test
    void scopeCountsItsTensorsAndBytes() {
        try (Scope scope = Scope.open()) {
            Tensor.zeros(256);
            Tensor.zeros(org.panamasd.DType.INT64, 16);
            assertEquals(2, scope.liveTensors());
            assertEquals(256 * 4 + 16 * 8, scope.bytes());
        }
    }


    @Test
    void dataSegmentsDieWithTheirTensor() {
        try (Scope scope = Scope.open()) {
            Tensor t = Tensor.ones(1 << 20);  // 4 MiB
            var segment = t.data();
            assertEquals(1f, segment.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 5));
            t.close();
            assertThrows(IllegalStateException.class, () -> segment.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 5));
        }
    }

    @Test
    void aDetachedScopeMayBeFilledAndClosedFromAnyThread() throws Exception {
        long before = MemoryStats.liveTensorCount();
        Scope weights = Scope.detached();
        try (var pool = Executors.newFixedThreadPool(2)) {
            for (int i = 0; i < 4; i++)
                pool.submit(() -> {
                    try (Scope local = Scope.open()) {
                        Tensor.ones(8).moveTo(weights);
                    }
                }).get();
            assertEquals(4, weights.liveTensors());
            pool.submit(weights::close).get();
        }
        assertFalse(weights.isOpen());
        assertEquals(before, MemoryStats.liveTensorCount());
    }
}
