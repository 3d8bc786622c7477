package org.panamasd;

import static org.panamasd.internal.panamasd_h.psd_tensor_free;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.panamasd.internal.ThreadState;
import org.panamasd.jfr.TensorLeakEvent;

/**
 * The safety net for native objects that became unreachable without being closed: tensors of a detached
 * scope dropped unclosed, the scopes a thread left open when it ended, generators and optimizers. It frees
 * them and reports each case (a warning, a JFR {@code org.panamasd.TensorLeak} event, and
 * {@link MemoryStats#reclaimedTensors()}), naming allocation sites when tracking is on. It is a net, not the
 * memory model: the GC decides when it runs.
 */
public final class Reclaim {
    private static final System.Logger LOG = System.getLogger("org.panamasd");
    private static final AtomicLong RECLAIMED = new AtomicLong();
    private static volatile String lastReport = "";
    /** The latest reports, newest last: the GC may reclaim other garbage right after a case a caller waits for. */
    private static final java.util.ArrayDeque<String> RECENT = new java.util.ArrayDeque<>();
    private static final int RECENT_KEPT = 32;

    static void install() {
        ThreadState.onThreadEnd((threadName, innermost) -> {
            List<String> sites = Scope.reclaimAbandoned((Scope) innermost);
            if (!sites.isEmpty()) report(sites.size(), "thread " + threadName + " ended with open scopes; freed", sites);
        });
    }

    /** Frees a tensor's handle exactly once: on close, or from the Cleaner if the tensor became unreachable. */
    static final class Guard implements Runnable {
        private final long address;
        private final StackTraceElement[] site;
        private volatile boolean closed;
        private Cleaner.Cleanable cleanable;

        private Guard(long address, StackTraceElement[] site) {
            this.address = address;
            this.site = site;
        }

        @Override
        public void run() {
            if (!closed) report(1, "a tensor of a detached scope became unreachable unclosed; freed", List.of(Reclaim.site(site)));
            psd_tensor_free(MemorySegment.ofAddress(address));
        }

        void free() {
            closed = true;
            cleanable.clean();
        }
    }

    static Guard guard(Tensor tensor) {
        long address = tensor.rawHandle();
        // freed meanwhile (closed on another thread while it moved to a detached scope): nothing to guard
        if (address == 0) throw Tensor.closedException();
        Guard guard = new Guard(address, tensor.allocationSite);
        guard.cleanable = ThreadState.CLEANER.register(tensor, guard);
        return guard;
    }

    /**
     * Registers a native object other than a tensor (a generator, an optimizer): {@code free} runs once, from
     * the returned cleanable's clean() on close, or after {@code owner} became unreachable unclosed (then
     * reported). {@code free} must not refer to {@code owner}.
     */
    public static Cleaner.Cleanable register(Object owner, String what, Runnable free) {
        boolean[] closed = {false};
        Cleaner.Cleanable cleanable = ThreadState.CLEANER.register(owner, () -> {
            if (!closed[0]) report(0, "a " + what + " became unreachable unclosed; freed", List.of());
            free.run();
        });
        return () -> {
            closed[0] = true;
            cleanable.clean();
        };
    }

    static String site(StackTraceElement[] site) {
        if (site == null || site.length == 0) return "(site unknown: -Dpanamasd.trackAllocations=true records it)";
        return Arrays.stream(site).map(StackTraceElement::toString).collect(Collectors.joining(" <- "));
    }

    private static void report(int tensors, String what, List<String> sites) {
        RECLAIMED.addAndGet(tensors);
        String report = what + (tensors > 0 ? " " + tensors + " tensor(s), made at:\n  " + String.join("\n  ", sites) : "");
        lastReport = report;
        synchronized (RECENT) {
            RECENT.addLast(report);
            while (RECENT.size() > RECENT_KEPT) RECENT.removeFirst();
        }
        LOG.log(System.Logger.Level.WARNING, report);
        TensorLeakEvent event = new TensorLeakEvent();
        event.leaked = tensors;
        event.report = report;
        event.commit();
    }

    static long reclaimed() {
        return RECLAIMED.get();
    }

    static String lastReport() {
        return lastReport;
    }

    static List<String> recentReports() {
        synchronized (RECENT) {
            return List.copyOf(RECENT);
        }
    }

    private Reclaim() {}
}
