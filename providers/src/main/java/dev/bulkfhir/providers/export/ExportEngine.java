package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.ExportState;
import dev.bulkfhir.storage.source.ResourceSource;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
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
 * node left IN_PROGRESS before they were spread) and the parts of spread jobs (whichever node prepared
 * them: so one large export keeps the workers of every node busy), renews the leases of running ones
 * every second (and learns so of cancels made on other nodes), and sweeps expired and cancelled jobs;
 * a bounded pool of worker threads writes the files, one resource type, or one key range of a large
 * type, per task.
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

    private final ExportContext context;
    private final ExportJobRepository jobs;
    private final ExportFileStore files;
    private final ExportSettings settings;
    private final NodeIdentity node;
    private final ThreadPoolExecutor workers;
    private final ScheduledExecutorService scheduler;
    private final Map<String, JobRun> running = new ConcurrentHashMap<>();
    /** The parts this node writes, by part id. */
    private final Map<String, PartRun> parts = new ConcurrentHashMap<>();
    /** The plans of the spread jobs whose parts this node writes or wrote lately, by job id. */
    private final Map<String, ExportPlan> plans = new ConcurrentHashMap<>();
    private final Object claims = new Object();
    private volatile boolean closed;
    private volatile Instant lastClaimPass;

    ExportEngine(FhirContext fhir, ExportJobRepository jobs, ExportFileStore files, Path nodeDirectory,
            ResourceSource source, ExportSettings settings, MeterRegistry meters, AuditSink audit) {
        this.jobs = jobs;
        this.files = files;
        this.settings = settings;
        this.node = NodeIdentity.acquire(nodeDirectory);
        this.context = new ExportContext(fhir, jobs, files, source, settings, new ExportTypes(fhir),
                new ExportMetrics(meters, jobs), audit, node.id(), emptyScratch(nodeDirectory.resolve("scratch")));
        this.workers = new ThreadPoolExecutor(settings.workers(), settings.workers(), 0, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), threads("export-worker"));
        this.scheduler = Executors.newSingleThreadScheduledExecutor(threads("export-scheduler"));
    }

    /** What the runs and the operations work with. */
    ExportContext context() {
        return context;
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

    /** The scratch folder, without what a killed run of this node left there; made when first needed. */
    private static Path emptyScratch(Path folder) {
        try {
            if (Files.isDirectory(folder)) {
                try (var leftovers = Files.list(folder)) {
                    for (Path file : (Iterable<Path>) leftovers::iterator) {
                        Files.deleteIfExists(file);
                    }
                }
            }
            return folder;
        } catch (IOException e) {
            throw new UncheckedIOException("Could not empty the export scratch folder " + folder, e);
        }
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

    /** A job's progress: live if this node runs it (the row is written once a second), else as its row says. */
    ExportJobRepository.Progress progress(ExportJob job) {
        JobRun run = running.get(job.id());
        return run != null ? run.progress() : new ExportJobRepository.Progress(job.typesTotal(), job.typesDone(),
                job.currentType(), job.resourcesDone());
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
        // Parts stop here at once; parts on other nodes at their next renewal, and the sweep cleans up.
        boolean here = false;
        for (PartRun part : parts.values()) {
            if (part.jobId().equals(before.id())) {
                part.stop(JobRun.Stop.CANCELLED);
                here = true;
            }
        }
        Instant now = Instant.now();
        boolean elsewhere = before.state() == ExportState.IN_PROGRESS && (before.spread()
                ? jobs.busyElsewhere(before.id(), node.id(), now)
                : before.leaseOwner() != null && !before.leaseOwner().equals(node.id())
                        && before.leaseExpiresAt() != null && before.leaseExpiresAt().isAfter(now));
        if (!elsewhere && !here) {
            files.deleteJob(before.id());
            jobs.delete(before.id());
        }
    }

    private void ended(JobRun run) {
        running.remove(run.id(), run);
        wake();
    }

    private void partEnded(PartRun run) {
        parts.remove(run.id(), run);
        if (run.stopReason() == JobRun.Stop.CANCELLED) {
            try {
                cleanCancelled(run.jobId());
            } catch (RuntimeException e) {
                log.warn("Could not clean up cancelled export job {}: {}", run.jobId(), e.toString());
            }
        }
        wake();
    }

    /** The last part of a cancelled job to stop, on any node, deletes its files and rows. */
    private void cleanCancelled(String jobId) {
        if (writesPartOf(jobId) || jobs.busyElsewhere(jobId, node.id(), Instant.now())) return;
        if (jobs.find(jobId).map(ExportJob::state).orElse(null) == ExportState.CANCELLED) {
            files.deleteJob(jobId);
            jobs.delete(jobId);
        }
    }

    /** When the claim loop last began a pass (null before the first): a stuck or dead scheduler stops moving it. */
    Instant lastClaimPass() {
        return lastClaimPass;
    }

    private void poll() {
        if (closed) return;
        lastClaimPass = Instant.now();
        claimJobs();
        claimParts();
    }

    private void claimJobs() {
        int free = settings.workers() - running.size() - parts.size();
        if (free <= 0) return;
        Instant now = Instant.now();
        for (String id : jobs.claimable(node.id(), now, free + running.size())) {
            if (free <= 0 || closed) return;
            synchronized (claims) {
                if (running.containsKey(id)) continue;
                Optional<ExportJob> claimed = jobs.claim(id, node.id(), now, leaseUntil(now));
                if (claimed.isEmpty()) continue;
                JobRun run = new JobRun(context, claimed.get(), workers, this::ended);
                running.put(id, run);
                free--;
                log.info("Export job {} {} on node {}", id, claimed.get().doneTypes().isEmpty() ? "started"
                        : "resumed", node.id());
                workers.execute(run::prepare);
            }
        }
    }

    /** Parts of spread jobs, for the workers that neither a job nor a part keeps busy. */
    private void claimParts() {
        // A running job counts as one worker (it may be the prepare task that is handing its parts out).
        int free = settings.workers() - running.size() - parts.size();
        if (free <= 0) return;
        Instant now = Instant.now();
        for (String id : jobs.claimableParts(node.id(), now, free + parts.size())) {
            if (free <= 0 || closed) return;
            if (parts.containsKey(id)) continue;
            Optional<ExportJobRepository.Part> claimed = jobs.claimPart(id, node.id(), now, leaseUntil(now));
            if (claimed.isEmpty()) continue;
            ExportJobRepository.Part part = claimed.get();
            ExportPlan plan = plan(part.jobId());
            if (plan == null) continue; // the job is gone; its part goes with it
            PartRun run = new PartRun(context, plan, jobs.find(part.jobId()).orElseThrow(), part, this::wake,
                    this::partEnded);
            parts.put(id, run);
            free--;
            workers.execute(run::run);
        }
    }

    /** The plan of a spread job, worked out once on this node (as the preparing node did). */
    private ExportPlan plan(String jobId) {
        ExportPlan known = plans.get(jobId);
        if (known != null) return known;
        Optional<ExportJob> job = jobs.find(jobId);
        if (job.isEmpty()) return null;
        try {
            ExportPlan plan = ExportPlan.of(context, job.get(), ExportRequest.fromJson(job.get().parameters()),
                    jobs.partTypes(jobId));
            plans.put(jobId, plan);
            return plan;
        } catch (TypeFilter.Unsupported | RuntimeException e) {
            // The preparing node worked the same plan out: this cannot be the request's fault.
            Instant now = Instant.now();
            if (jobs.fail(jobId, node.id(), "Planning the export failed: " + e, now, now.plus(settings.retention()))) {
                files.deleteJob(jobId);
                jobs.deleteFiles(jobId);
            }
            return null;
        }
    }

    private void heartbeat() {
        Instant now = Instant.now();
        for (JobRun run : running.values()) {
            if (run.stopped()) continue;
            if (!jobs.renew(run.id(), node.id(), leaseUntil(now), run.progress())) {
                run.refused();
            }
        }
        for (PartRun run : parts.values()) {
            if (run.stopped()) continue;
            if (!jobs.renewPart(run.id(), node.id(), leaseUntil(now), run.resources())) {
                run.refused();
            }
        }
    }

    /**
     * A poll's time short of the configured lease: the other nodes notice a lapsed lease at their next
     * poll, so a dead node's job is resumed within the lease of its last renewal.
     */
    private Instant leaseUntil(Instant now) {
        return now.plus(settings.lease()).minusMillis(POLL_MILLIS);
    }

    private void sweep() {
        Instant now = Instant.now();
        for (String id : jobs.dueToExpire(now, 200)) {
            if (jobs.markExpired(id)) {
                context.audit().record(AuditRecord.now(AuditAction.EXPORT_EXPIRED, 0, null, id, null, 0, 0));
                files.deleteJob(id);
                log.info("Export job {} expired; its files are deleted", id);
            }
        }
        for (String id : jobs.cancelledToClean(node.id(), now, 200)) {
            if (!running.containsKey(id) && !writesPartOf(id)) {
                files.deleteJob(id);
                jobs.delete(id);
            }
        }
        plans.keySet().removeIf(id -> !writesPartOf(id));
        jobs.purgeExpired(now.minus(PURGE_AFTER));
    }

    private boolean writesPartOf(String jobId) {
        return parts.values().stream().anyMatch(part -> part.jobId().equals(jobId));
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
        parts.values().forEach(run -> run.stop(JobRun.Stop.SHUTDOWN));
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
