package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

/**
 * The block pool keeps freed blocks of 1 MiB or more so that a warm step faults no pages in; the service gives them
 * back between requests, once its queue is empty, not inside one.
 */
class ServiceIdleMemoryTest extends NativeTest {

    @Test
    void anIdleServiceHandsThePoolsFreeBlocksBack() throws Exception {
        Assumptions.assumeTrue(MemoryStats.pool().enabled(), "the counting allocator's block pool is off");
        GenerationService service = GenerationService.start(ServiceSettings.of(ServiceApiTest.MODEL));
        try {
            try (Scope s = Scope.open()) {
                Tensor.zeros(1 << 20);  // 4 MiB: a pooled block, free once the scope closes
            }
            assertTrue(MemoryStats.pool().freeBytes() >= 4 << 20, "the freed block stays in the pool: " + MemoryStats.pool());
            Job job = service.submit(service.parse(ServiceClient.JSON.readTree("{\"prompt\": \"a bag\", \"steps\": 1, \"seed\": 3}")));
            for (int i = 0; i < 6000 && !job.state().finished(); i++) Thread.sleep(10);
            assertEquals(Job.State.DONE, job.state(), job.error());
            // the worker trims after the batch, on its own thread: wait for it a while
            for (int i = 0; i < 500 && MemoryStats.pool().freeBytes() > 0; i++) Thread.sleep(10);
            assertEquals(0, MemoryStats.pool().freeBytes(), "with nothing queued the pool is empty: " + MemoryStats.pool());
        } finally {
            service.stop();
        }
    }
}
