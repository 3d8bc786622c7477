package org.panamasd;

import static org.junit.jupiter.api.Assertions.*;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.panamasd.support.NativeTest;

/**
 * A close that loses a race with a move: thread A read the tensor's scope (a detached one), then thread B moved
 * the tensor into its own stack scope before A removed it. {@link Tensor#closeFrom} is {@code close()} with A's
 * stale read injected. In this package because the injection point is package-private.
 */
class TensorCloseRaceTest extends NativeTest {

    @Test
    void aCloseThatLostTheTensorToAnotherThreadsScopeDoesNotFreeIt() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        Scope shared = Scope.detached();
        Tensor t;
        try (Scope load = Scope.open()) {
            t = Tensor.ones(3).moveTo(shared);
        }
        Tensor moved = t;
        try (ExecutorService b = Executors.newSingleThreadExecutor()) {
            CompletableFuture<Void> bMoved = new CompletableFuture<>(), aTried = new CompletableFuture<>();
            var bDone = b.submit(() -> {
                try (Scope mine = Scope.open()) {
                    moved.moveTo(mine);
                    bMoved.complete(null);
                    aTried.join();
                    return moved.sum().item();  // B still owns it: A's close must not have freed it
                }
            });
            bMoved.join();
            Throwable closing;
            try {
                moved.closeFrom(shared);
                closing = null;
            } catch (RuntimeException e) {
                closing = e;
            } finally {
                aTried.complete(null);
            }
            var bRead = assertDoesNotThrow(() -> bDone.get(), "B reads its tensor after A's close");
            assertEquals(3.0, bRead);
            assertInstanceOf(WrongThreadException.class, closing, "A may not close what B's stack scope owns");
        } finally {
            shared.close();
        }
        assertFalse(moved.isOpen(), "B's scope freed it");
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }
}
