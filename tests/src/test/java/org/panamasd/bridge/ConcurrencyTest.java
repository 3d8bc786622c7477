package org.panamasd.bridge;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.panamasd.Functional;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * The concurrency contract (docs/concurrency.md): a detached scope's tensors are shared by any thread, a
 * racing close is an exception in the other threads and never a crash, each handle is freed exactly once.
 */
class ConcurrencyTest extends NativeTest {

    /** Runs {@code body} on {@code n} platform threads and rethrows the first failure. */
    private static void onThreads(int n, ThrowingRunnable body) throws InterruptedException {
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = i;
            threads.add(Thread.ofPlatform().name("worker-" + i).start(() -> {
                try {
                    body.run(index);
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        for (Thread t : threads) t.join();
        if (!failures.isEmpty()) throw new AssertionError("a worker failed", failures.peek());
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run(int index) throws Exception;
    }

    // 64 MiB: above the malloc mmap threshold, so freed memory is unmapped and a read of it faults
    private static final long[] BIG = {4096, 4096};

    @Test
    void closingSharedWeightsWhileThreadsComputeWithThemIsAnExceptionNotACrash() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        for (int round = 0; round < 3; round++) {
            Scope weights = Scope.detached();
            Tensor w;
            try (Scope load = Scope.open()) {
                w = Tensor.ones(BIG).moveTo(weights);
            }
            CountDownLatch running = new CountDownLatch(4);
            AtomicInteger refused = new AtomicInteger();
            Thread closer = Thread.ofPlatform().start(() -> {
                try {
                    running.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                weights.close();
            });
            onThreads(4, i -> {
                boolean counted = false;
                try {
                    while (true) {
                        try (Scope step = Scope.open()) {
                            assertEquals(4096.0 * 4096, w.sum().item(), "never reads freed memory");
                            Functional.linear(Tensor.ones(2, 4096), w, null);
                        }
                        if (!counted) {
                            running.countDown();
                            counted = true;
                        }
                    }
                } catch (IllegalStateException closed) {  // the contract: "tensor is closed" / "scope is closed"
                    refused.incrementAndGet();
                    if (!counted) running.countDown();
                }
            });
            closer.join();
            assertEquals(4, refused.get(), "every worker ends with the close as an exception");
            assertFalse(w.isOpen());
            assertEquals(baseline, MemoryStats.liveTensorCount(), "the weights are freed once the calls in flight returned");
        }
    }

    /**
     * The same race made certain: a native call (psd_test_hold) stays inside libtorch with the weight for a
     * second while another thread closes the weight's scope. The pin keeps the weight alive until the call
     * returns; without it the call reports the weight freed under it.
     */
    @Test
    void aCloseDuringANativeCallOnTheTensorFreesItOnlyWhenTheCallReturns() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        Scope weights = Scope.detached();
        Tensor w;
        try (Scope load = Scope.open()) {
            w = Tensor.ones(BIG).moveTo(weights);
        }
        CountDownLatch calling = new CountDownLatch(1);
        boolean[] freedUnderTheCall = new boolean[1];
        long[] returned = new long[1];
        Thread caller = Thread.ofPlatform().start(() -> {
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                var freed = arena.allocate(java.lang.foreign.ValueLayout.JAVA_BOOLEAN);
                // a call of no length first links the downcall, so that the held call starts right after the signal
                try (Scope mine = Scope.open()) {
                    org.panamasd.internal.panamasd_h.psd_test_hold(Tensor.ones(1).handle(), 0, freed);
                }
                java.lang.foreign.MemorySegment handle = w.handle();  // pins w until the call's check: a close now waits
                calling.countDown();
                org.panamasd.internal.Native.check(org.panamasd.internal.panamasd_h.psd_test_hold(handle, 1000, freed), "psd_test_hold");
                returned[0] = System.nanoTime();
                freedUnderTheCall[0] = freed.get(java.lang.foreign.ValueLayout.JAVA_BOOLEAN, 0);
            }
        });
        calling.await();  // w is pinned by the caller: the close below comes before or during its call, never after
        Thread.sleep(300);  // inside the 1 s call
        long closed = System.nanoTime();
        weights.close();
        assertFalse(w.isOpen(), "closed at once for Java");
        assertTrue(MemoryStats.liveTensorCount() > baseline, "but not freed while the call runs");
        caller.join();
        assertTrue(returned[0] > closed, "the close came while the call ran");
        assertFalse(freedUnderTheCall[0], "the weight was freed while a native call used it");
        assertEquals(baseline, MemoryStats.liveTensorCount(), "freed once the call returned");
    }

    @Test
    void racingClosesFreeEveryHandleExactlyOnce() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        for (int round = 0; round < 20; round++) {
            Scope shared = Scope.detached();
            Tensor[] tensors = new Tensor[200];
            try (Scope make = Scope.open()) {
                for (int i = 0; i < tensors.length; i++) tensors[i] = Tensor.zeros(4).moveTo(shared);
            }
            CyclicBarrier start = new CyclicBarrier(4);
            onThreads(4, i -> {
                start.await();
                if (i == 0) shared.close();
                for (Tensor t : tensors) t.close();
            });
            // a double free would count the handle twice: the count would fall below the baseline
            assertEquals(baseline, MemoryStats.liveTensorCount());
            assertEquals(0, shared.liveTensors());
        }
    }

    @Test
    void aTensorOfAnotherThreadsScopeIsPinnedWhileUsed() throws Exception {
        // the owner closes its scope while a reader computes with one of its tensors: the reader's call
        // completes on valid memory (or is refused), the tensor is freed after it
        long baseline = MemoryStats.liveTensorCount();
        for (int round = 0; round < 10; round++) {
            Tensor[] published = new Tensor[1];
            CountDownLatch ready = new CountDownLatch(1);
            CountDownLatch reading = new CountDownLatch(1);
            Thread owner = Thread.ofPlatform().start(() -> {
                try (Scope scope = Scope.open()) {
                    published[0] = Tensor.ones(BIG);
                    ready.countDown();
                    reading.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            ready.await();
            try (Scope mine = Scope.open()) {
                reading.countDown();
                for (int i = 0; i < 20; i++) assertEquals(4096.0 * 4096, published[0].sum().item());
            } catch (IllegalStateException closed) {
                assertEquals("tensor is closed", closed.getMessage());
            }
            owner.join();
            assertEquals(baseline, MemoryStats.liveTensorCount());
        }
    }

    @Test
    void aThreadThatEndsWithScopesOpenIsReclaimedAndReported() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        long reclaimed = MemoryStats.reclaimedTensors();
        MemoryStats.trackAllocations(true);
        try {
            Thread careless = Thread.ofPlatform().name("careless-worker").start(() -> {
                Scope outer = Scope.open();
                Tensor.zeros(8);
                Scope inner = Scope.open();
                Tensor.ones(8);
                Tensor.ones(2, 2);
                // ends without closing either scope
            });
            careless.join();
            careless = null;
            awaitCount(baseline);
        } finally {
            MemoryStats.trackAllocations(false);
        }
        // other tests' garbage may be reclaimed in the same GC: find this thread's report among the recent ones
        String report = MemoryStats.recentReclaimReports().stream().filter(r -> r.contains("careless-worker")).findFirst()
                .orElseThrow(() -> new AssertionError("no report names careless-worker: " + MemoryStats.recentReclaimReports()));
        assertTrue(report.contains("freed 3 tensor(s)"), report);
        assertTrue(MemoryStats.reclaimedTensors() >= reclaimed + 3, "at least the thread's 3 tensors were reclaimed");
        assertTrue(report.contains("ConcurrencyTest"), "names the allocation site: " + report);
    }

    @Test
    void aDroppedDetachedScopeIsReclaimed() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        long reclaimed = MemoryStats.reclaimedTensors();
        dropAScope();
        awaitCount(baseline);
        // at least its two tensors (another test's garbage may be reclaimed by the same collections)
        assertTrue(MemoryStats.reclaimedTensors() >= reclaimed + 2, "reclaimed " + (MemoryStats.reclaimedTensors() - reclaimed));
    }

    private static void dropAScope() {
        Scope forgotten = Scope.detached();
        try (Scope step = Scope.open()) {
            Tensor.zeros(16).moveTo(forgotten);
            Tensor.zeros(16).moveTo(forgotten);
        }
    }

    /** Waits for the GC to find what became unreachable (bounded: 200 collections). */
    private static void awaitCount(long expected) throws InterruptedException {
        for (int i = 0; i < 200 && MemoryStats.liveTensorCount() != expected; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(expected, MemoryStats.liveTensorCount(), "the safety net freed the unreachable tensors");
    }
}
