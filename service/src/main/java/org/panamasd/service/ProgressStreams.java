package org.panamasd.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.sse.SseClient;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Server-sent events of a job's progress ({@code progress} events carrying {@link JobView}), ending with its
 * final state. A stream that closes before the job has finished cancels the job: the client that watched it is
 * gone. Comments are sent every {@link #HEARTBEAT_MILLIS} so that a vanished client is noticed while the job
 * still waits in the queue (a write to a closed connection fails; an idle one would never tell).
 * Writes happen on virtual threads of their own, never on the worker that made progress: a slow client must not
 * stall a batch. A client that reads slower than the steps come gets the latest state, not every step.
 */
final class ProgressStreams implements AutoCloseable {
    static final long HEARTBEAT_MILLIS = 250;

    private final GenerationService service;
    private final ObjectMapper json;
    private final Set<Stream> open = ConcurrentHashMap.newKeySet();
    private final ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();  // network writes only, no model code
    private final ScheduledExecutorService heartbeat =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("panamasd-sse-heartbeat").daemon().factory());

    ProgressStreams(GenerationService service, ObjectMapper json) {
        this.service = service;
        this.json = json;
        heartbeat.scheduleWithFixedDelay(() -> open.forEach(Stream::ping), HEARTBEAT_MILLIS, HEARTBEAT_MILLIS, TimeUnit.MILLISECONDS);
    }

    void accept(SseClient client) {
        var job = service.job(client.ctx().pathParam("id"));
        if (job.isEmpty()) {
            client.sendEvent("missing", "{\"error\": \"no such job\"}");
            client.close();
            return;
        }
        Stream stream = new Stream(client, job.get());
        client.keepAlive();
        client.onClose(stream::closed);
        open.add(stream);
        job.get().observe(stream);
        stream.changed(job.get());  // the state now, before the next change
    }

    /** One client following one job. Its writes are serialized: progress and heartbeats share one response. */
    private final class Stream implements Job.Observer {
        private final SseClient client;
        private final Job job;
        private final AtomicBoolean sendScheduled = new AtomicBoolean();
        private boolean ended;

        Stream(SseClient client, Job job) {
            this.client = client;
            this.job = job;
        }

        @Override
        public void changed(Job changed) {
            if (sendScheduled.compareAndSet(false, true)) write(this::sendLatest);
        }

        void ping() {
            write(() -> {
                synchronized (this) {
                    if (!ended) client.sendComment("heartbeat");
                }
            });
        }

        private void write(Runnable task) {
            try {
                writers.execute(task);
            } catch (RejectedExecutionException e) {
                // the server is stopping and its connections with it: nobody is left to tell
            }
        }

        private synchronized void sendLatest() {
            sendScheduled.set(false);  // a change from now on schedules another send
            if (ended) return;
            client.sendEvent("progress", text(job));
            if (job.state().finished()) {
                ended = true;
                client.close();
            }
        }

        void closed() {
            open.remove(this);
            job.forget(this);
            if (!job.state().finished()) service.cancel(job.id(), "the client disconnected");
        }

        private String text(Job changed) {
            try {
                return json.writeValueAsString(JobView.of(changed));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Override
    public void close() {
        heartbeat.shutdownNow();
        writers.shutdownNow();
    }
}
