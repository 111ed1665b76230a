package dev.bulkfhir.storage.export;

import jakarta.persistence.LockModeType;
import org.hibernate.Session;
import org.hibernate.SessionFactory;
import org.hibernate.cfg.AvailableSettings;
import org.hibernate.cfg.Configuration;

import dev.bulkfhir.storage.source.KeyRange;

import javax.sql.DataSource;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The export job table, through Hibernate. Bootstrapped without persistence.xml on a given
 * {@link DataSource} (Flyway has made the schema; Hibernate only validates it), so that it never
 * touches a host's own persistence unit.
 *
 * <p>Every change a worker makes is guarded by its lease ({@code lease_owner = node AND state =
 * IN_PROGRESS}), so several nodes can share one database: a node that lost its lease, or whose job
 * was cancelled, sees its update refused and stops.
 */
public final class ExportJobRepository implements AutoCloseable {

    private final SessionFactory sessions;
    private final BlockingQueue<Admission> waitingAdmissions = new LinkedBlockingQueue<>();
    private final Thread admissions = new Thread(this::admitKickoffs, "export-admission");
    private volatile boolean closed;
    /** Queued by {@link #close}: the admission thread stops when it takes it. */
    private static final Admission CLOSING = new Admission(null, 0, 0, new CompletableFuture<>());

    private ExportJobRepository(SessionFactory sessions) {
        this.sessions = sessions;
        admissions.setDaemon(true);
        admissions.start();
    }

    /** Opens the repository on a database migrated by {@code Database.migrate}. */
    public static ExportJobRepository open(DataSource dataSource) {
        Configuration configuration = new Configuration()
                .addAnnotatedClass(ExportJob.class)
                .addAnnotatedClass(ExportFile.class);
        configuration.getProperties().put(AvailableSettings.JAKARTA_NON_JTA_DATASOURCE, dataSource);
        configuration.setProperty(AvailableSettings.HBM2DDL_AUTO, "validate");
        configuration.setProperty(AvailableSettings.SHOW_SQL, "false");
        configuration.setProperty(AvailableSettings.USE_SECOND_LEVEL_CACHE, "false");
        ExportJobRepository repository = new ExportJobRepository(configuration.buildSessionFactory());
        Thread warmUp = new Thread(repository::warmUp, "export-query-warm-up");
        warmUp.setDaemon(true);
        warmUp.start();
        return repository;
    }

    /**
     * Has Hibernate interpret the queries of the kickoff, poll, download and claim paths once, with ids no
     * row has (nothing changes): the first interpretation of an HQL query (ANTLR, on a cold JVM) takes
     * seconds, and would otherwise fall on the first client after a start (a first kickoff took 6.7 s).
     */
    private void warmUp() {
        String none = "-";
        Instant now = Instant.now();
        try {
            sessions.inTransaction(ExportJobRepository::countActiveByOwner);
            find(none);
            files(none);
            pageEnds(none);
            findFile(none);
            active(none, 1);
            claimable(none, now, 1);
            claim(none, none, now, now);
            renew(none, none, now, new Progress(0, 0, null, 0));
            spread(none, none, 0, 0, List.of(), List.of(), now, now);
            claimableParts(none, now, 1);
            fail(none, none, null, now, now);
            cancel(none, none, now);
            dueToExpire(now, 1);
            markExpired(none);
            countByState();
        } catch (RuntimeException e) {
            // closed while warming up (a short test run): the queries are interpreted when first used
        }
    }

    /** Progress as a worker reports it with each lease renewal. */
    public record Progress(int typesTotal, int typesDone, String currentType, long resourcesDone) {}

    /** A file with the job it belongs to (for downloads: owner, state, expiry). */
    public record OwnedFile(ExportFile file, ExportJob job) {}

    /** Jobs waiting or running: of one owner, and of everyone. */
    public record ActiveJobs(long owner, long all) {}

    /**
     * Stores {@code job} if its owner has fewer than {@code perOwner} jobs waiting or running and everyone
     * together fewer than {@code total}. The count and the insert happen under a lock on the one row of
     * {@code bf_export_admission}, so kickoffs on any number of nodes sharing the database are admitted
     * one at a time and the limits hold across them. Returns the jobs that were active: admitted if they
     * were under both limits.
     *
     * <p>Kickoffs that arrive while a batch commits are admitted together in the next one, by one thread
     * (group commit): one row lock, one count and one commit for all of them. One lock and commit per
     * kickoff queued 50 concurrent kickoffs behind each other's commits, each holding a pooled connection.
     */
    public ActiveJobs admit(ExportJob job, int perOwner, int total) {
        Admission mine = new Admission(job, perOwner, total, new CompletableFuture<>());
        waitingAdmissions.add(mine);
        if (closed) {
            refuseWaiting(); // the admission thread may have gone before this one was added
        }
        try {
            return mine.answer().join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e;
        }
    }

    /** A kickoff waiting to be admitted, and its answer once its batch has committed. */
    private record Admission(ExportJob job, int perOwner, int total, CompletableFuture<ActiveJobs> answer) {}

    /**
     * The admission thread: takes every kickoff waiting and admits them in one transaction. One thread, so
     * that each kickoff is woken once, by its answer; kickoffs taking turns at a lock woke each other one
     * after another, and on a busy CPU that chain took longer than the commit.
     */
    private void admitKickoffs() {
        List<Admission> batch = new ArrayList<>();
        while (true) {
            try {
                batch.add(waitingAdmissions.take());
            } catch (InterruptedException e) {
                break; // not interrupted by close: an interrupt would close H2's file channel
            }
            waitingAdmissions.drainTo(batch);
            if (batch.remove(CLOSING)) {
                waitingAdmissions.addAll(batch);
                break;
            }
            admit(batch);
            batch.clear();
        }
        refuseWaiting();
    }

    private void refuseWaiting() {
        List<Admission> left = new ArrayList<>();
        waitingAdmissions.drainTo(left);
        left.forEach(admission -> admission.answer().completeExceptionally(
                new IllegalStateException("The export job table is closed")));
    }

    /** Admits {@code batch} in arrival order, in one transaction; answers each kickoff after the commit. */
    private void admit(List<Admission> batch) {
        List<ActiveJobs> answers;
        try {
            answers = sessions.fromTransaction(session -> {
                session.createNativeQuery("select id from bf_export_admission where id = 1 for update", Integer.class)
                        .getSingleResult();
                Map<String, Long> byOwner = countActiveByOwner(session);
                long all = byOwner.values().stream().mapToLong(Long::longValue).sum();
                List<ActiveJobs> counted = new ArrayList<>(batch.size());
                for (Admission admission : batch) {
                    String owner = admission.job().ownerId();
                    ActiveJobs active = new ActiveJobs(byOwner.getOrDefault(owner, 0L), all);
                    if (active.owner() < admission.perOwner() && active.all() < admission.total()) {
                        session.persist(admission.job());
                        byOwner.merge(owner, 1L, Long::sum);
                        all++;
                    }
                    counted.add(active);
                }
                return counted;
            });
        } catch (Throwable e) {
            // Each kickoff of the batch gets the failure (a saturated pool is a 429 to each); the thread goes on.
            batch.forEach(admission -> admission.answer().completeExceptionally(e));
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).answer().complete(answers.get(i));
        }
    }

    /** Jobs that are ACCEPTED or IN_PROGRESS, counted by owner (owners without such jobs are absent). */
    private static Map<String, Long> countActiveByOwner(Session session) {
        Map<String, Long> counts = new HashMap<>();
        for (Object[] row : session.createSelectionQuery("select j.ownerId, count(j) from ExportJob j"
                        + " where j.state in (:accepted, :running) group by j.ownerId", Object[].class)
                .setParameter("accepted", ExportState.ACCEPTED)
                .setParameter("running", ExportState.IN_PROGRESS)
                .getResultList()) {
            counts.put((String) row[0], ((Number) row[1]).longValue());
        }
        return counts;
    }

    /** How many jobs the table holds in each state (states without jobs are absent). */
    public Map<ExportState, Long> countByState() {
        return sessions.fromSession(session -> {
            Map<ExportState, Long> counts = new EnumMap<>(ExportState.class);
            for (Object[] row : session.createSelectionQuery("select j.state, count(j) from ExportJob j group by j.state",
                    Object[].class).getResultList()) {
                counts.put((ExportState) row[0], ((Number) row[1]).longValue());
            }
            return counts;
        });
    }

    /** Jobs that are ACCEPTED or IN_PROGRESS, oldest first: of {@code ownerId}, or of everyone if it is null. */
    public List<ExportJob> active(String ownerId, int limit) {
        return sessions.fromSession(session -> {
            var query = session.createSelectionQuery("from ExportJob j where j.state in (:accepted, :running)"
                            + (ownerId == null ? "" : " and j.ownerId = :owner") + " order by j.createdAt", ExportJob.class)
                    .setParameter("accepted", ExportState.ACCEPTED)
                    .setParameter("running", ExportState.IN_PROGRESS)
                    .setMaxResults(limit);
            if (ownerId != null) query.setParameter("owner", ownerId);
            return query.getResultList();
        });
    }

    public Optional<ExportJob> find(String id) {
        return Optional.ofNullable(sessions.fromSession(session -> session.find(ExportJob.class, id)));
    }

    /** The job if it exists and belongs to {@code ownerId}: another owner's job is as good as unknown. */
    public Optional<ExportJob> findOwned(String id, String ownerId) {
        return find(id).filter(job -> job.ownerId().equals(ownerId));
    }

    /** The job's finished files: data files by type and sequence, then error files. */
    public List<ExportFile> files(String jobId) {
        return sessions.fromSession(session -> session.createSelectionQuery(
                        "from ExportFile f where f.jobId = :job order by f.errorFile, f.type, f.seq", ExportFile.class)
                .setParameter("job", jobId)
                .getResultList());
    }

    /**
     * The last file number of each manifest page handed out while the job ran (page 1 first): such a
     * page keeps exactly its files for good (allowPartialManifests).
     */
    public List<Long> pageEnds(String jobId) {
        return sessions.fromSession(session -> session.createNativeQuery(
                        "SELECT last_ordinal FROM bf_export_page WHERE job_id = :job ORDER BY page", Long.class)
                .setParameter("job", jobId)
                .getResultList());
    }

    /**
     * Fixes page {@code page} of the job's manifest to end at file number {@code lastOrdinal}, unless
     * it is fixed already (by another request, maybe on another node); returns where it ends.
     */
    public long fixPage(String jobId, int page, long lastOrdinal) {
        try {
            sessions.inTransaction(session -> session.createNativeMutationQuery(
                            "INSERT INTO bf_export_page (job_id, page, last_ordinal) VALUES (:job, :page, :last)")
                    .setParameter("job", jobId)
                    .setParameter("page", page)
                    .setParameter("last", lastOrdinal)
                    .executeUpdate());
            return lastOrdinal;
        } catch (RuntimeException e) {
            List<Long> ends = pageEnds(jobId);
            if (ends.size() >= page) return ends.get(page - 1);
            throw e;
        }
    }

    public Optional<OwnedFile> findFile(String fileId) {
        return sessions.fromSession(session -> session.createSelectionQuery(
                        "select f, j from ExportFile f join ExportJob j on j.id = f.jobId where f.id = :id", Object[].class)
                .setParameter("id", fileId)
                .getResultList().stream()
                .findFirst()
                .map(row -> new OwnedFile((ExportFile) row[0], (ExportJob) row[1])));
    }

    /**
     * Jobs a node may take, oldest first: ACCEPTED ones, IN_PROGRESS ones whose lease ran out (their
     * node died), and IN_PROGRESS ones leased to this very node id (it restarted: nothing of it runs).
     * The caller leaves out jobs it is running itself.
     */
    public List<String> claimable(String nodeId, Instant now, int limit) {
        return sessions.fromSession(session -> session.createSelectionQuery(
                        "select j.id from ExportJob j where j.state = :accepted or (j.state = :running and j.spread = false"
                                + " and (j.leaseExpiresAt < :now or j.leaseOwner = :node)) order by j.createdAt",
                        String.class)
                .setParameter("accepted", ExportState.ACCEPTED)
                .setParameter("running", ExportState.IN_PROGRESS)
                .setParameter("now", now)
                .setParameter("node", nodeId)
                .setMaxResults(limit)
                .getResultList());
    }

    /**
     * Takes the job for {@code nodeId} if it is still claimable: one guarded UPDATE, so that of several
     * nodes racing for it exactly one wins. Returns the job as claimed, or empty if another node was faster.
     */
    public Optional<ExportJob> claim(String id, String nodeId, Instant now, Instant leaseUntil) {
        int updated = sessions.fromTransaction(session -> session.createMutationQuery(
                        "update ExportJob j set j.state = :running, j.leaseOwner = :node, j.leaseExpiresAt = :until,"
                                + " j.startedAt = coalesce(j.startedAt, :now)"
                                + " where j.id = :id and (j.state = :accepted or (j.state = :running and j.spread = false"
                                + " and (j.leaseExpiresAt < :now or j.leaseOwner = :node)))")
                .setParameter("running", ExportState.IN_PROGRESS)
                .setParameter("accepted", ExportState.ACCEPTED)
                .setParameter("node", nodeId)
                .setParameter("until", leaseUntil)
                .setParameter("now", now)
                .setParameter("id", id)
                .executeUpdate());
        return updated == 1 ? find(id) : Optional.empty();
    }

    /** Extends the lease and records progress; false when the job is no longer this node's to run. */
    public boolean renew(String id, String nodeId, Instant leaseUntil, Progress progress) {
        return sessions.fromTransaction(session -> session.createMutationQuery(
                        "update ExportJob j set j.leaseExpiresAt = :until, j.typesTotal = :typesTotal,"
                                + " j.typesDone = :typesDone, j.currentType = :current, j.resourcesDone = :done"
                                + " where j.id = :id and j.leaseOwner = :node"
                                + " and j.state = :running")
                .setParameter("until", leaseUntil)
                .setParameter("typesTotal", progress.typesTotal())
                .setParameter("typesDone", progress.typesDone())
                .setParameter("current", progress.currentType())
                .setParameter("done", progress.resourcesDone())
                .setParameter("id", id)
                .setParameter("node", nodeId)
                .setParameter("running", ExportState.IN_PROGRESS)
                .executeUpdate() == 1);
    }

    /**
     * Records that the files of some types are complete, in one transaction with their rows, so that
     * a resumed job either has a type wholly or exports it again from scratch. False (and nothing
     * written) when the job is no longer this node's.
     */
    public boolean completeTypes(String id, String nodeId, Set<String> doneTypes, List<ExportFile> files) {
        return sessions.fromTransaction(session -> {
            int updated = session.createMutationQuery(
                            "update ExportJob j set j.doneTypes = :types where j.id = :id and j.leaseOwner = :node"
                                    + " and j.state = :running")
                    .setParameter("types", ExportJob.joinTypes(new LinkedHashSet<>(doneTypes)))
                    .setParameter("id", id)
                    .setParameter("node", nodeId)
                    .setParameter("running", ExportState.IN_PROGRESS)
                    .executeUpdate();
            if (updated != 1) {
                return false;
            }
            persistNumbered(session, id, files);
            return true;
        });
    }

    /** Stores a job's new file rows, numbered on: call under the job row's lock, so numbers never repeat. */
    private static void persistNumbered(Session session, String jobId, List<ExportFile> files) {
        long last = session.createSelectionQuery("select coalesce(max(f.ordinal), 0) from ExportFile f"
                + " where f.jobId = :job", Long.class).setParameter("job", jobId).getSingleResult();
        for (ExportFile file : files) {
            file.ordinal(++last);
            session.persist(file);
        }
    }

    /** A part of a spread job: a resource type, or a key range of one, with its row's id. */
    public record Part(String id, String jobId, String type, KeyRange range) {
        /** A new part, not stored yet. */
        public static Part of(String jobId, String type, KeyRange range) {
            return new Part(UUID.randomUUID().toString().replace("-", ""), jobId, type, range);
        }
    }

    /** What recording a part (or spreading a job) did. */
    public enum Recorded {
        /** Nothing: the job or the part is no longer this node's to write (cancelled, failed, taken over). */
        REFUSED,
        /** Recorded; other parts are still to do. */
        RECORDED,
        /** Recorded, and it was the last: the job is COMPLETED now. */
        COMPLETED
    }

    /**
     * Hands a prepared job to part rows that any node may claim: in one transaction, guarded by this node's
     * lease on the job, the job becomes spread and loses its lease, {@code files} (the request's warnings)
     * are recorded and {@code parts} stored OPEN, to be claimed in their order. Without parts the job is
     * completed at once.
     */
    public Recorded spread(String id, String nodeId, int typesTotal, long resourcesDone, List<ExportFile> files,
            List<Part> parts, Instant now, Instant expires) {
        return sessions.fromTransaction(session -> {
            int updated = session.createMutationQuery(
                            "update ExportJob j set j.spread = true, j.leaseOwner = null, j.leaseExpiresAt = null,"
                                    + " j.typesTotal = :total, j.resourcesDone = :done, j.currentType = null"
                                    + " where j.id = :id and j.leaseOwner = :node and j.state = :running")
                    .setParameter("total", typesTotal)
                    .setParameter("done", resourcesDone)
                    .setParameter("id", id)
                    .setParameter("node", nodeId)
                    .setParameter("running", ExportState.IN_PROGRESS)
                    .executeUpdate();
            if (updated != 1) return Recorded.REFUSED;
            persistNumbered(session, id, files);
            // A microsecond apart (both databases keep them): parts are claimed in the order given.
            for (int i = 0; i < parts.size(); i++) {
                insertPart(session, parts.get(i), now.plusNanos(1000L * i));
            }
            return finishedParts(session, id, now, expires);
        });
    }

    private static void insertPart(Session session, Part part, Instant now) {
        session.createNativeMutationQuery("INSERT INTO bf_export_part (id, job_id, res_type, range_after, range_up_to,"
                        + " state, resource_count, created_at) VALUES (:id, :job, :type, :after, :upTo, 'OPEN', 0, :now)")
                .setParameter("id", part.id())
                .setParameter("job", part.jobId())
                .setParameter("type", part.type())
                .setParameter("after", part.range().after(), Long.class)
                .setParameter("upTo", part.range().upTo(), Long.class)
                .setParameter("now", now)
                .executeUpdate();
    }

    /**
     * Under the job row's lock: completes the job if no part of it is left, else counts its done types
     * (those without a part left; with READ COMMITTED, a part recorded by another node just before is seen).
     */
    private static Recorded finishedParts(Session session, String jobId, Instant now, Instant expires) {
        Number left = (Number) session.createNativeQuery("SELECT COUNT(DISTINCT res_type) FROM bf_export_part"
                        + " WHERE job_id = :job AND state <> 'DONE'", Object.class)
                .setParameter("job", jobId)
                .getSingleResult();
        if (left.intValue() == 0) {
            session.createMutationQuery("update ExportJob j set j.state = :completed, j.finishedAt = :now,"
                            + " j.expiresAt = :expires, j.typesDone = j.typesTotal, j.currentType = null where j.id = :id")
                    .setParameter("completed", ExportState.COMPLETED)
                    .setParameter("now", now)
                    .setParameter("expires", expires)
                    .setParameter("id", jobId)
                    .executeUpdate();
            return Recorded.COMPLETED;
        }
        session.createMutationQuery("update ExportJob j set j.typesDone = j.typesTotal - :left where j.id = :id")
                .setParameter("left", left.intValue())
                .setParameter("id", jobId)
                .executeUpdate();
        return Recorded.RECORDED;
    }

    /**
     * Parts a node may take, of the oldest running jobs first: OPEN ones, RUNNING ones whose lease ran out
     * (their node died), and RUNNING ones leased to this very node id (it restarted). The caller leaves
     * out parts it is running itself.
     */
    public List<String> claimableParts(String nodeId, Instant now, int limit) {
        return sessions.fromSession(session -> session.createNativeQuery("SELECT p.id FROM bf_export_part p"
                        + " JOIN bf_export_job j ON j.id = p.job_id WHERE j.state = 'IN_PROGRESS' AND (p.state = 'OPEN'"
                        + " OR (p.state = 'RUNNING' AND (p.lease_expires_at < :now OR p.lease_owner = :node)))"
                        + " ORDER BY j.created_at, p.created_at, p.id", String.class)
                .setParameter("now", now)
                .setParameter("node", nodeId)
                .setMaxResults(limit)
                .getResultList());
    }

    /** Takes the part for {@code nodeId} if it is still claimable (one guarded UPDATE: one node wins). */
    public Optional<Part> claimPart(String id, String nodeId, Instant now, Instant leaseUntil) {
        return sessions.fromTransaction(session -> {
            int updated = session.createNativeMutationQuery("UPDATE bf_export_part SET state = 'RUNNING',"
                            + " lease_owner = :node, lease_expires_at = :until WHERE id = :id AND (state = 'OPEN'"
                            + " OR (state = 'RUNNING' AND (lease_expires_at < :now OR lease_owner = :node)))"
                            + " AND EXISTS (SELECT 1 FROM bf_export_job j WHERE j.id = bf_export_part.job_id"
                            + " AND j.state = 'IN_PROGRESS')")
                    .setParameter("node", nodeId)
                    .setParameter("until", leaseUntil)
                    .setParameter("id", id)
                    .setParameter("now", now)
                    .executeUpdate();
            if (updated != 1) return Optional.empty();
            Object[] row = session.createNativeQuery("SELECT job_id, res_type, range_after, range_up_to"
                    + " FROM bf_export_part WHERE id = :id", Object[].class).setParameter("id", id).getSingleResult();
            return Optional.of(new Part(id, (String) row[0], (String) row[1],
                    new KeyRange(asLong(row[2]), asLong(row[3]))));
        });
    }

    private static Long asLong(Object value) {
        return value == null ? null : ((Number) value).longValue();
    }

    /**
     * Cuts a part this node runs after its first range: the part keeps {@code first}, the rest becomes a
     * new OPEN part for any node. False (nothing written) when the part is no longer this node's.
     */
    public boolean splitPart(Part part, String nodeId, KeyRange first, Part rest, Instant now) {
        return sessions.fromTransaction(session -> {
            int updated = session.createNativeMutationQuery("UPDATE bf_export_part SET range_up_to = :upTo"
                            + " WHERE id = :id AND lease_owner = :node AND state = 'RUNNING'")
                    .setParameter("upTo", first.upTo(), Long.class)
                    .setParameter("id", part.id())
                    .setParameter("node", nodeId)
                    .executeUpdate();
            if (updated != 1) return false;
            insertPart(session, rest, now);
            return true;
        });
    }

    /** Extends the lease of a part this node runs; false when it is no longer this node's or its job stopped. */
    public boolean renewPart(String id, String nodeId, Instant leaseUntil, long resources) {
        return sessions.fromTransaction(session -> session.createNativeMutationQuery(
                        "UPDATE bf_export_part SET lease_expires_at = :until, resource_count = :count WHERE id = :id"
                                + " AND lease_owner = :node AND state = 'RUNNING' AND EXISTS (SELECT 1 FROM"
                                + " bf_export_job j WHERE j.id = bf_export_part.job_id AND j.state = 'IN_PROGRESS')")
                .setParameter("until", leaseUntil)
                .setParameter("count", resources)
                .setParameter("id", id)
                .setParameter("node", nodeId)
                .executeUpdate() == 1);
    }

    /**
     * Records a part this node wrote, with its files, in one transaction: the part becomes DONE (still
     * naming this node), the job counts its resources, and if it was the job's last part the job is
     * COMPLETED. The part is taken first and the job row second (as nowhere else both), so no deadlock.
     */
    public Recorded completePart(Part part, String nodeId, List<ExportFile> files, long resources, Instant now,
            Instant expires) {
        return sessions.fromTransaction(session -> {
            int mine = session.createNativeMutationQuery("UPDATE bf_export_part SET state = 'DONE',"
                            + " resource_count = :count, lease_expires_at = NULL WHERE id = :id AND lease_owner = :node"
                            + " AND state = 'RUNNING'")
                    .setParameter("count", resources)
                    .setParameter("id", part.id())
                    .setParameter("node", nodeId)
                    .executeUpdate();
            if (mine != 1) return Recorded.REFUSED;
            // A DONE part of a job that stopped meanwhile is harmless: nothing reads it, it goes with the job.
            int running = session.createMutationQuery("update ExportJob j set j.resourcesDone = j.resourcesDone"
                            + " + :count, j.currentType = :type where j.id = :id and j.state = :running and j.spread = true")
                    .setParameter("count", resources)
                    .setParameter("type", part.type())
                    .setParameter("id", part.jobId())
                    .setParameter("running", ExportState.IN_PROGRESS)
                    .executeUpdate();
            if (running != 1) return Recorded.REFUSED;
            persistNumbered(session, part.jobId(), files);
            return finishedParts(session, part.jobId(), now, expires);
        });
    }

    /** The resource types of a spread job's parts. */
    public List<String> partTypes(String jobId) {
        return sessions.fromSession(session -> session.createNativeQuery(
                        "SELECT DISTINCT res_type FROM bf_export_part WHERE job_id = :job", String.class)
                .setParameter("job", jobId)
                .getResultList());
    }

    /** Whether another live node still writes a part of the job (then its files are left to the sweep). */
    public boolean busyElsewhere(String jobId, String nodeId, Instant now) {
        return sessions.fromSession(session -> !session.createNativeQuery("SELECT id FROM bf_export_part"
                        + " WHERE job_id = :job AND state = 'RUNNING' AND lease_expires_at >= :now"
                        + " AND lease_owner <> :node", String.class)
                .setParameter("job", jobId)
                .setParameter("now", now)
                .setParameter("node", nodeId)
                .setMaxResults(1)
                .getResultList().isEmpty());
    }

    /** IN_PROGRESS to COMPLETED (files kept until {@code expires}); false when no longer this node's. */
    public boolean complete(String id, String nodeId, Instant finished, Instant expires) {
        return finish(id, nodeId, ExportState.COMPLETED, null, finished, expires);
    }

    /** IN_PROGRESS to FAILED with a reason a client may read. */
    public boolean fail(String id, String nodeId, String error, Instant finished, Instant expires) {
        String text = error == null ? "Export failed" : error.length() > 4000 ? error.substring(0, 4000) : error;
        return finish(id, nodeId, ExportState.FAILED, text, finished, expires);
    }

    private boolean finish(String id, String nodeId, ExportState state, String error, Instant finished,
            Instant expires) {
        return sessions.fromTransaction(session -> session.createMutationQuery(
                        "update ExportJob j set j.state = :state, j.errorText = :error, j.finishedAt = :finished,"
                                + " j.expiresAt = :expires, j.leaseOwner = null, j.leaseExpiresAt = null,"
                                + " j.currentType = null where j.id = :id and (j.leaseOwner = :node or j.spread = true)"
                                + " and j.state = :running")
                .setParameter("state", state)
                .setParameter("error", error)
                .setParameter("finished", finished)
                .setParameter("expires", expires)
                .setParameter("id", id)
                .setParameter("node", nodeId)
                .setParameter("running", ExportState.IN_PROGRESS)
                .executeUpdate() == 1);
    }

    /**
     * Cancels the job of {@code ownerId}, whatever it was doing (a finished job is the client saying it
     * is done with the files). Returns the job as it was before, or empty if there is no such job of
     * this owner, or it was already cancelled or expired.
     */
    public Optional<ExportJob> cancel(String id, String ownerId, Instant now) {
        return sessions.fromTransaction(session -> {
            ExportJob job = session.find(ExportJob.class, id, LockModeType.PESSIMISTIC_WRITE);
            if (job == null || !job.ownerId().equals(ownerId)
                    || job.state() == ExportState.CANCELLED || job.state() == ExportState.EXPIRED) {
                return Optional.empty();
            }
            ExportState before = job.state();
            session.detach(job);
            session.createMutationQuery("update ExportJob j set j.state = :cancelled, j.finishedAt = :now"
                            + " where j.id = :id")
                    .setParameter("cancelled", ExportState.CANCELLED)
                    .setParameter("now", now)
                    .setParameter("id", id)
                    .executeUpdate();
            job.state(before);
            return Optional.of(job);
        });
    }

    /** On a clean shutdown: this node's running jobs and parts may be taken by any node right away. */
    public void release(String nodeId, Instant now) {
        sessions.inTransaction(session -> {
            session.createMutationQuery(
                            "update ExportJob j set j.leaseExpiresAt = :now where j.leaseOwner = :node and j.state = :running")
                    .setParameter("now", now)
                    .setParameter("node", nodeId)
                    .setParameter("running", ExportState.IN_PROGRESS)
                    .executeUpdate();
            session.createNativeMutationQuery("UPDATE bf_export_part SET lease_expires_at = :now"
                            + " WHERE lease_owner = :node AND state = 'RUNNING'")
                    .setParameter("now", now)
                    .setParameter("node", nodeId)
                    .executeUpdate();
        });
    }

    /** COMPLETED and FAILED jobs whose retention time is over. */
    public List<String> dueToExpire(Instant now, int limit) {
        return sessions.fromSession(session -> session.createSelectionQuery(
                        "select j.id from ExportJob j where j.state in (:completed, :failed) and j.expiresAt < :now",
                        String.class)
                .setParameter("completed", ExportState.COMPLETED)
                .setParameter("failed", ExportState.FAILED)
                .setParameter("now", now)
                .setMaxResults(limit)
                .getResultList());
    }

    /** COMPLETED or FAILED to EXPIRED; false if something else happened to it meanwhile (a cancel). */
    public boolean markExpired(String id) {
        return sessions.fromTransaction(session -> session.createMutationQuery(
                        "update ExportJob j set j.state = :expired where j.id = :id and j.state in (:completed, :failed)")
                .setParameter("expired", ExportState.EXPIRED)
                .setParameter("id", id)
                .setParameter("completed", ExportState.COMPLETED)
                .setParameter("failed", ExportState.FAILED)
                .executeUpdate() == 1);
    }

    /**
     * Cancelled jobs that no live node is still working on (neither the job nor a part of it): their files
     * and rows can go. Those leased to {@code nodeId} itself are among them (it restarted, nothing of it
     * runs; the caller leaves out jobs it is running), so that a node killed right after a cancel cleans
     * up as soon as it is back.
     */
    public List<String> cancelledToClean(String nodeId, Instant now, int limit) {
        return sessions.fromSession(session -> session.createNativeQuery(
                        "SELECT j.id FROM bf_export_job j WHERE j.state = 'CANCELLED' AND (j.lease_expires_at IS NULL"
                                + " OR j.lease_expires_at < :now OR j.lease_owner = :node) AND NOT EXISTS (SELECT 1"
                                + " FROM bf_export_part p WHERE p.job_id = j.id AND p.state = 'RUNNING'"
                                + " AND p.lease_expires_at >= :now AND p.lease_owner <> :node)", String.class)
                .setParameter("now", now)
                .setParameter("node", nodeId)
                .setMaxResults(limit)
                .getResultList());
    }

    /** Expired jobs whose rows have answered 410 long enough: after this, their URLs are 404. */
    public int purgeExpired(Instant expiredBefore) {
        return sessions.fromTransaction(session -> {
            List<String> ids = session.createSelectionQuery(
                            "select j.id from ExportJob j where j.state = :expired and j.expiresAt < :before", String.class)
                    .setParameter("expired", ExportState.EXPIRED)
                    .setParameter("before", expiredBefore)
                    .setMaxResults(1000)
                    .getResultList();
            ids.forEach(id -> deleteRows(session, id));
            return ids.size();
        });
    }

    /** Removes the job's rows (its file rows too). */
    public void delete(String id) {
        sessions.inTransaction(session -> deleteRows(session, id));
    }

    /** Removes the file rows of a job (a failed job's output, whose files are gone). */
    public void deleteFiles(String jobId) {
        sessions.inTransaction(session -> session.createMutationQuery("delete from ExportFile f where f.jobId = :job")
                .setParameter("job", jobId)
                .executeUpdate());
    }

    private static void deleteRows(Session session, String id) {
        session.createMutationQuery("delete from ExportFile f where f.jobId = :id").setParameter("id", id).executeUpdate();
        session.createMutationQuery("delete from ExportJob j where j.id = :id").setParameter("id", id).executeUpdate();
    }

    @Override
    public void close() {
        closed = true;
        waitingAdmissions.add(CLOSING);
        try {
            admissions.join(10_000); // a batch in flight commits before the sessions close
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sessions.close();
    }
}
