package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.panamasd.MemoryStats;
import org.panamasd.support.NativeTest;

/**
 * Stopping the service (SIGTERM runs {@link GenerationService#close()}): what runs is cancelled, the wait for the
 * workers is bounded, and the model is freed only once no worker is inside it.
 */
class ServiceStopTest extends NativeTest {

    private static GenerationService start() {
        return GenerationService.start(ServiceSettings.of(ServiceApiTest.MODEL).withLimits(ServiceApiTest.LONG_JOBS));
    }

    private static JsonNode body(String json) throws Exception {
        return ServiceClient.JSON.readTree(json);
    }

    private static void awaitRunning(Job job) throws InterruptedException {
        for (int i = 0; i < 3000 && job.state() == Job.State.QUEUED; i++) Thread.sleep(10);
        assertEquals(Job.State.RUNNING, job.state());
    }

    @Test
    void stoppingCancelsTheRunningJobAtItsNextStep() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        GenerationService service = start();
        Job running = service.submit(service.parse(body("{\"prompt\": \"a coat\", \"steps\": " + ServiceApiTest.LONG_STEPS + "}")));
        awaitRunning(running);
        long t0 = System.nanoTime();
        assertTrue(service.stop(), "the model is freed");
        assertEquals(Job.State.CANCELLED, running.state(), "the running job was cancelled, not run to its end");
        assertTrue(running.error().contains("stopping"), running.error());
        assertTrue(running.step() < ServiceApiTest.LONG_STEPS, "stopped at step " + running.step());
        System.out.printf("stopped in %.2f s at step %d%n", (System.nanoTime() - t0) / 1e9, running.step());
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }

    @Test
    void aWorkerStuckInsideABatchBoundsTheWaitAndKeepsTheModelUntilItLeaves() throws Exception {
        long baseline = MemoryStats.liveTensorCount();
        CountDownLatch inside = new CountDownLatch(1), release = new CountDownLatch(1);
        GenerationWorker.faultBeforeBatch = jobs -> {  // a step that takes minutes
            inside.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        GenerationService service = start();
        try {
            service.stopWait = Duration.ofMillis(500);
            service.submit(service.parse(body("{\"prompt\": \"a coat\", \"steps\": 2}")));
            assertTrue(inside.await(60, TimeUnit.SECONDS), "the worker entered its batch");
            long t0 = System.nanoTime();
            boolean freed = assertTimeoutPreemptively(Duration.ofSeconds(30), service::stop, "the stop waits a bounded time");
            assertFalse(freed, "the model is kept while a worker is inside it");
            assertTrue((System.nanoTime() - t0) / 1e9 < 10, "bounded by the stop's wait");
            assertTrue(MemoryStats.liveTensorCount() > baseline, "the weights are still alive");
        } finally {
            GenerationWorker.faultBeforeBatch = null;
            release.countDown();
        }
        service.stopWait = Duration.ofSeconds(60);
        assertTrue(service.stop(), "closing again once the worker left frees the model");
        assertEquals(baseline, MemoryStats.liveTensorCount());
    }

    @Test
    void aModelFileWrittenOverWhileServedFailsTheBatchNamingItInsteadOfCrashing(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path model = tmp.resolve("model");
        try (var files = java.nio.file.Files.walk(ServiceApiTest.MODEL, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
            for (java.nio.file.Path p : files.toList())
                java.nio.file.Files.copy(p, model.resolve(ServiceApiTest.MODEL.relativize(p).toString()));
        }
        GenerationService service = GenerationService.start(ServiceSettings.of(model));
        try {
            java.nio.file.Path weights;
            try (var files = java.nio.file.Files.walk(model.resolve("unet"))) {
                weights = files.filter(p -> p.toString().endsWith(".safetensors")).findFirst().orElseThrow();
            }
            try (var ch = java.nio.channels.FileChannel.open(weights, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(new byte[] {0}), java.nio.file.Files.size(weights));  // written over in place
            }
            Job job = service.submit(service.parse(body("{\"prompt\": \"a coat\"}")));
            for (int i = 0; i < 3000 && !job.state().finished(); i++) Thread.sleep(10);
            assertEquals(Job.State.FAILED, job.state());
            assertTrue(job.error().contains(weights.getFileName().toString()) && job.error().contains("renaming"), job.error());
        } finally {
            service.close();
        }
    }
}
