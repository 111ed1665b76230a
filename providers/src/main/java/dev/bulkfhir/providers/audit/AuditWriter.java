package dev.bulkfhir.providers.audit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An {@link AuditSink} that never blocks its callers: records go into a bounded queue, and one
 * background thread takes whatever has queued up in {@value #LINGER_MILLIS} ms (at most
 * {@value #MAX_BATCH}) and hands it to a {@link Batches} writer in one go (one JDBC batch and
 * transaction, one log flush). When the queue is full, records are dropped and counted, and the
 * count is logged: a request is never held up by its audit trail.
 */
public final class AuditWriter implements AuditSink, AutoCloseable {

    /** Records that may wait at once. */
    public static final int DEFAULT_CAPACITY = 65_536;
    /** The most records handed over in one batch. */
    static final int MAX_BATCH = 10_000;
    /** How long a batch may gather after its first record: how late an event may reach the sink. */
    static final long LINGER_MILLIS = 1000;

    private static final Logger log = LoggerFactory.getLogger(AuditWriter.class);

    /** Writes a batch of records, on the writer's own thread. */
    @FunctionalInterface
    public interface Batches {
        void write(List<AuditRecord> batch) throws Exception;
    }

    private final BlockingQueue<AuditRecord> queue;
    private final Batches batches;
    private final Thread thread;
    private final AtomicLong dropped = new AtomicLong();
    private volatile boolean closed;

    private AuditWriter(String name, int capacity, Batches batches) {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.batches = batches;
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    /** A writer with its thread started. */
    public static AuditWriter start(String name, int capacity, Batches batches) {
        AuditWriter writer = new AuditWriter(name, capacity, batches);
        writer.thread.start();
        return writer;
    }

    @Override
    public void record(AuditRecord record) {
        if (!queue.offer(record)) {
            dropped.incrementAndGet();
        }
    }

    /** Records dropped so far because the queue was full. */
    public long dropped() {
        return dropped.get();
    }

    private void run() {
        List<AuditRecord> batch = new ArrayList<>(MAX_BATCH);
        long droppedLogged = 0;
        while (true) {
            try {
                if (queue.isEmpty()) {
                    if (closed) break;
                    // Idle: park until the next record (its producer pays one wake-up, not one per record).
                    AuditRecord first = queue.poll(200, TimeUnit.MILLISECONDS);
                    if (first == null) continue;
                    batch.add(first);
                    if (!closed && queue.size() < MAX_BATCH) {
                        // Let a batch gather without waking this thread per record: few, large transactions.
                        Thread.sleep(LINGER_MILLIS);
                    }
                }
                queue.drainTo(batch, MAX_BATCH - batch.size());
                write(batch);
                batch.clear();
                long lost = dropped.get();
                if (lost != droppedLogged) {
                    log.warn("{} audit records dropped so far: the audit writer falls behind", lost);
                    droppedLogged = lost;
                }
            } catch (InterruptedException e) {
                closed = true;
            }
        }
    }

    private void write(List<AuditRecord> batch) {
        try {
            batches.write(batch);
        } catch (Exception e) {
            dropped.addAndGet(batch.size());
            log.error("{} audit records could not be written", batch.size(), e);
        }
    }

    /** Writes what is queued, then stops the thread (waiting at most 10 s). */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
