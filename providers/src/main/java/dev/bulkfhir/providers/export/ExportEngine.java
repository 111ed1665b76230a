package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.ExportState;
import dev.bulkfhir.storage.source.ResourceSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs export jobs: a scheduler thread claims jobs from the job table (ACCEPTED ones, and those a dead
 * node left IN_PROGRESS), renews the leases of running ones every second (and learns so of cancels
 * made on other nodes), and sweeps expired and cancelled jobs; a bounded pool of worker threads
 * writes the files, one resource type, or one key range of a large type, per task.
 *
 * <p>Resume: a claimed job keeps the types and ranges whose files it recorded as complete, deletes
 * every other file in its folder (the partial output of the dead worker) and exports the rest again
 * from scratch. Every type is read as of the job's transaction time, and a key stays with its
 * resource, so the second run yields exactly what the first would have: nothing twice, nothing missing.
 */
final class ExportEngine implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ExportEngine.class);
    private static final long POLL_MILLIS = 500;
    private static final long HEARTBEAT_MILLIS = 1000;
    /** Expired jobs answer 410 for this long, then their rows go and their URLs are 404. */
    private static final Duration PURGE_AFTER = Duration.ofDays(7);

    final FhirContext context;
    final ExportJobRepository jobs;
    final ExportFileStore files;
    final ResourceSource source;
    final ExportSettings settings;
    final ExportTypes types;
    private final NodeIdentity node;
    private final ThreadPoolExecutor workers;
    private final ScheduledExecutorService scheduler;
    private final Map<String, JobRun> running = new ConcurrentHashMap<>();
    private final Object claims = new Object();
    private volatile boolean closed;

    ExportEngine(FhirContext context, ExportJobRepository jobs, ExportFileStore files, Path nodeDirectory,
            ResourceSource source, ExportSettings settings) {
        this.context = context;
        this.jobs = jobs;
        this.files = files;
        this.source = source;
        this.settings = settings;
        this.types = new ExportTypes(context);
        this.node = NodeIdentity.acquire(nodeDirectory);
        this.workers = new ThreadPoolExecutor(settings.workers(), settings.workers(), 0, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), threads("export-worker"));
        this.scheduler = Executors.newSingleThreadScheduledExecutor(threads("export-scheduler"));
    }

    void start() {
        scheduler.scheduleWithFixedDelay(guarded("claim", this::poll), 0, POLL_MILLIS, TimeUnit.MILLISECONDS);
        scheduler.scheduleWithFixedDelay(guarded("lease renewal", this::heartbeat), HEARTBEAT_MILLIS,
                HEARTBEAT_MILLIS, TimeUnit.MILLISECONDS);
        long sweep = Math.max(1000, Math.min(60_000, settings.retention().toMillis() / 4));
        // The first sweep at once: what a killed predecessor left (a cancel's files) goes now.
        scheduler.scheduleWithFixedDelay(guarded("expiry sweep", this::sweep), 0, sweep, TimeUnit.MILLISECONDS);
        log.info("Export engine started: node {}, {} workers, files in {}", node.id(), settings.workers(), files.describe());
    }

    String nodeId() {
        return node.id();
    }

    /** A kickoff just stored a job: look for work now rather than at the next poll. */
    void wake() {
        if (closed) return;
        try {
            scheduler.execute(guarded("claim", this::poll));
        } catch (RejectedExecutionException e) {
            // shutting down
        }
    }

    /** The live progress of a job this node runs (fresher than the row, which is written once a second). */
    Optional<ExportJobRepository.Progress> progress(String jobId) {
        JobRun run = running.get(jobId);
        return run == null ? Optional.empty() : Optional.of(run.progress());
    }

    /**
     * A job was just cancelled (its row says CANCELLED): stop it here if it runs here, leave it to its
     * node if another live node runs it (that node sees the cancel at its next renewal), else delete
     * its files and rows now.
     */
    void cancelled(ExportJob before) {
        log.info("Export job {} cancelled by its client (it was {})", before.id(), before.state());
        synchronized (claims) {
            JobRun run = running.get(before.id());
            if (run != null) {
                run.stop(JobRun.Stop.CANCELLED);
                return;
            }
        }
        boolean elsewhere = before.state() == ExportState.IN_PROGRESS && before.leaseOwner() != null
                && !before.leaseOwner().equals(node.id()) && before.leaseExpiresAt() != null
                && before.leaseExpiresAt().isAfter(Instant.now());
        if (!elsewhere) {
            files.deleteJob(before.id());
            jobs.delete(before.id());
        }
    }

    void execute(Runnable task) {
        workers.execute(task);
    }

    void ended(JobRun run) {
        running.remove(run.id(), run);
        wake();
    }

    private void poll() {
        if (closed) return;
        int free = settings.workers() - running.size();
        if (free <= 0) return;
        Instant now = Instant.now();
        for (String id : jobs.claimable(node.id(), now, free + running.size())) {
            if (free <= 0 || closed) return;
            synchronized (claims) {
                if (running.containsKey(id)) continue;
                Optional<ExportJob> claimed = jobs.claim(id, node.id(), now, now.plus(settings.lease()));
                if (claimed.isEmpty()) continue;
                JobRun run = new JobRun(this, claimed.get());
                running.put(id, run);
                free--;
                log.info("Export job {} {} on node {}", id, claimed.get().doneTypes().isEmpty() ? "started"
                        : "resumed", node.id());
                workers.execute(run::prepare);
            }
        }
    }

    private void heartbeat() {
        Instant now = Instant.now();
        for (JobRun run : running.values()) {
            if (run.stopped()) continue;
            if (!jobs.renew(run.id(), node.id(), now.plus(settings.lease()), run.progress())) {
                run.refused();
            }
        }
    }

    private void sweep() {
        Instant now = Instant.now();
        for (String id : jobs.dueToExpire(now, 200)) {
            if (jobs.markExpired(id)) {
                files.deleteJob(id);
                log.info("Export job {} expired; its files are deleted", id);
            }
        }
        for (String id : jobs.cancelledToClean(node.id(), now, 200)) {
            if (!running.containsKey(id)) {
                files.deleteJob(id);
                jobs.delete(id);
            }
        }
        jobs.purgeExpired(now.minus(PURGE_AFTER));
    }

    /**
     * Stops taking jobs, lets running types stop at their next resource (no interrupts: they would
     * break H2's file channel), and releases this node's leases so that any node may resume them.
     */
    @Override
    public void close() {
        closed = true;
        // No interrupts, here either: a query interrupted in H2 closes its file channel.
        scheduler.shutdown();
        running.values().forEach(run -> run.stop(JobRun.Stop.SHUTDOWN));
        workers.shutdown();
        try {
            if (!workers.awaitTermination(10, TimeUnit.SECONDS)) {
                log.warn("Export workers did not stop within 10 s");
            }
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            jobs.release(node.id(), Instant.now());
        } catch (RuntimeException e) {
            log.warn("Could not release export leases: {}", e.toString());
        }
        node.close();
    }

    private static Runnable guarded(String what, Runnable task) {
        return () -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.warn("Export {} failed: {}", what, e.toString(), e);
            }
        };
    }

    private static ThreadFactory threads(String name) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
