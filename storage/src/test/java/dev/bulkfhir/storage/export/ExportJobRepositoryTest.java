package dev.bulkfhir.storage.export;

import dev.bulkfhir.storage.Database;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job table on a real H2 database, as several nodes see it: admission limits, leases that only
 * their holder may use, file numbering, cancel, expiry and purge. Every test uses its own owner and
 * jobs, so they share one database.
 */
class ExportJobRepositoryTest {

    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private static final ExportJobRepository.Progress NO_PROGRESS = new ExportJobRepository.Progress(0, 0, null, 0);

    @TempDir
    static Path dir;
    static Database database;
    static ExportJobRepository jobs;

    @BeforeAll
    static void open() {
        database = Database.open(Database.h2Url(dir), null, null, 4);
        jobs = ExportJobRepository.open(database.dataSource());
    }

    @AfterAll
    static void close() {
        jobs.close();
        database.close();
    }

    private static ExportJob newJob(String owner, Instant at) {
        return new ExportJob(ExportFileStore.newJobId(), owner, "http://x/fhir/$export", "{}", at);
    }

    /** A job admitted, claimed by {@code node} and leased for a minute from {@link #T0}. */
    private static ExportJob running(String owner, String node) {
        ExportJob job = newJob(owner, T0);
        jobs.admit(job, 100, 1000);
        assertThat(jobs.claim(job.id(), node, T0, T0.plusSeconds(60))).isPresent();
        return job;
    }

    private static ExportFile file(String jobId, String type, int seq) {
        String id = ExportFileStore.newFileId();
        return new ExportFile(id, jobId, type, seq, 1, 2, ExportFileStore.location(jobId, id), false, T0);
    }

    @Test
    void admissionCountsTheOwnersActiveJobsAndEveryonesTogether() {
        String owner = "admit-" + ExportFileStore.newJobId();
        assertThat(jobs.admit(newJob(owner, T0), 2, 1000).owner()).isZero();
        assertThat(jobs.admit(newJob(owner, T0), 2, 1000).owner()).isEqualTo(1);
        ExportJob third = newJob(owner, T0);
        ExportJobRepository.ActiveJobs refused = jobs.admit(third, 2, 1000);
        assertThat(refused.owner()).isEqualTo(2);
        assertThat(jobs.find(third.id())).as("over the owner's limit: not stored").isEmpty();

        ExportJob overall = newJob("someone-else-" + owner, T0);
        ExportJobRepository.ActiveJobs all = jobs.admit(overall, 100, 1);
        assertThat(all.all()).isGreaterThanOrEqualTo(2);
        assertThat(jobs.find(overall.id())).as("over the total limit: not stored").isEmpty();

        assertThat(jobs.active(owner, 10)).hasSize(2).allMatch(job -> job.state() == ExportState.ACCEPTED);
    }

    @Test
    void kickoffsAtOnceOnTwoNodesAreAdmittedInBatchesAndTheLimitsStillHold() throws Exception {
        String owner = "batch-" + ExportFileStore.newJobId();
        int limit = 7;
        ExecutorService kickoffs = Executors.newFixedThreadPool(16);
        try (ExportJobRepository otherNode = ExportJobRepository.open(database.dataSource())) {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> admitted = new ArrayList<>();
            for (int i = 0; i < 48; i++) {
                ExportJobRepository node = i % 2 == 0 ? jobs : otherNode;
                admitted.add(kickoffs.submit(() -> {
                    start.await();
                    ExportJob job = newJob(owner, T0);
                    ExportJobRepository.ActiveJobs active = node.admit(job, limit, 1000);
                    boolean stored = node.find(job.id()).isPresent();
                    assertThat(stored).as("stored exactly when under the limit it was counted against")
                            .isEqualTo(active.owner() < limit);
                    return stored;
                }));
            }
            start.countDown();
            long stored = 0;
            for (Future<Boolean> answer : admitted) {
                if (answer.get(60, TimeUnit.SECONDS)) stored++;
            }
            assertThat(stored).isEqualTo(limit);
            assertThat(jobs.active(owner, 100)).hasSize(limit);
        } finally {
            kickoffs.shutdownNow();
        }
    }

    @Test
    void ofTwoNodesClaimingOneJobExactlyOneWins() {
        ExportJob job = newJob("claim-" + ExportFileStore.newJobId(), T0);
        jobs.admit(job, 100, 1000);
        assertThat(jobs.claimable("node-a", T0, 1000)).contains(job.id());

        ExportJob claimed = jobs.claim(job.id(), "node-a", T0, T0.plusSeconds(60)).orElseThrow();
        assertThat(claimed.state()).isEqualTo(ExportState.IN_PROGRESS);
        assertThat(claimed.leaseOwner()).isEqualTo("node-a");
        assertThat(claimed.startedAt()).isEqualTo(T0);
        assertThat(jobs.claim(job.id(), "node-b", T0.plusSeconds(1), T0.plusSeconds(61))).isEmpty();
        assertThat(jobs.claimable("node-b", T0.plusSeconds(1), 1000)).doesNotContain(job.id());
        assertThat(jobs.claimable("node-a", T0.plusSeconds(1), 1000))
                .as("a node's own lease after its restart").contains(job.id());
    }

    @Test
    void aLeaseThatRanOutMayBeTakenAndTheOldHolderIsThenRefused() {
        ExportJob job = running("lease-" + ExportFileStore.newJobId(), "node-a");
        Instant later = T0.plusSeconds(120);
        assertThat(jobs.claimable("node-b", later, 1000)).contains(job.id());
        ExportJob taken = jobs.claim(job.id(), "node-b", later, later.plusSeconds(60)).orElseThrow();
        assertThat(taken.startedAt()).as("the first start is kept").isEqualTo(T0);

        assertThat(jobs.renew(job.id(), "node-a", later.plusSeconds(60), NO_PROGRESS)).isFalse();
        assertThat(jobs.completeTypes(job.id(), "node-a", Set.of("Patient"), List.of(file(job.id(), "Patient", 1))))
                .isFalse();
        assertThat(jobs.files(job.id())).isEmpty();
        assertThat(jobs.complete(job.id(), "node-a", later, later.plusSeconds(3600))).isFalse();

        assertThat(jobs.renew(job.id(), "node-b", later.plusSeconds(90),
                new ExportJobRepository.Progress(3, 1, "Observation", 42))).isTrue();
        ExportJob renewed = jobs.find(job.id()).orElseThrow();
        assertThat(renewed.leaseExpiresAt()).isEqualTo(later.plusSeconds(90));
        assertThat(renewed.typesTotal()).isEqualTo(3);
        assertThat(renewed.typesDone()).isEqualTo(1);
        assertThat(renewed.currentType()).isEqualTo("Observation");
        assertThat(renewed.resourcesDone()).isEqualTo(42);
    }

    @Test
    void completedTypesNumberTheirFilesWithoutGapsOrRepeats() {
        ExportJob job = running("files-" + ExportFileStore.newJobId(), "node-a");
        assertThat(jobs.completeTypes(job.id(), "node-a", Set.of("Patient"),
                List.of(file(job.id(), "Patient", 1), file(job.id(), "Patient", 2)))).isTrue();
        assertThat(jobs.completeTypes(job.id(), "node-a", Set.of("Patient", "Condition"),
                List.of(file(job.id(), "Condition", 1)))).isTrue();

        assertThat(jobs.find(job.id()).orElseThrow().doneTypes()).containsExactlyInAnyOrder("Patient", "Condition");
        List<ExportFile> files = jobs.files(job.id());
        assertThat(files).extracting(ExportFile::type).containsExactly("Condition", "Patient", "Patient");
        assertThat(files).extracting(ExportFile::ordinal).containsExactlyInAnyOrder(1L, 2L, 3L);
        ExportFile first = files.get(1);
        ExportJobRepository.OwnedFile owned = jobs.findFile(first.id()).orElseThrow();
        assertThat(owned.job().id()).isEqualTo(job.id());
        assertThat(owned.file().location()).isEqualTo(first.location());
        assertThat(jobs.findFile(ExportFileStore.newFileId())).isEmpty();
    }

    @Test
    void aFinishedJobLosesItsLeaseAndKeepsItsReason() {
        ExportJob done = running("finish-" + ExportFileStore.newJobId(), "node-a");
        Instant expires = T0.plusSeconds(3600);
        assertThat(jobs.complete(done.id(), "node-a", T0.plusSeconds(5), expires)).isTrue();
        ExportJob completed = jobs.find(done.id()).orElseThrow();
        assertThat(completed.state()).isEqualTo(ExportState.COMPLETED);
        assertThat(completed.leaseOwner()).isNull();
        assertThat(completed.expiresAt()).isEqualTo(expires);
        assertThat(jobs.complete(done.id(), "node-a", T0.plusSeconds(6), expires)).as("only once").isFalse();

        ExportJob failed = running(done.ownerId(), "node-a");
        assertThat(jobs.fail(failed.id(), "node-a", "x".repeat(5000), T0, expires)).isTrue();
        assertThat(jobs.find(failed.id()).orElseThrow().errorText()).hasSize(4000);
        ExportJob unexplained = running(done.ownerId(), "node-a");
        jobs.fail(unexplained.id(), "node-a", null, T0, expires);
        assertThat(jobs.find(unexplained.id()).orElseThrow().errorText()).isEqualTo("Export failed");
        assertThat(jobs.active(done.ownerId(), 10)).isEmpty();
    }

    @Test
    void onlyTheOwnerCancelsAndOnlyOnce() {
        ExportJob job = running("cancel-" + ExportFileStore.newJobId(), "node-a");
        assertThat(jobs.findOwned(job.id(), "intruder")).isEmpty();
        assertThat(jobs.cancel(job.id(), "intruder", T0)).isEmpty();

        ExportJob before = jobs.cancel(job.id(), job.ownerId(), T0.plusSeconds(1)).orElseThrow();
        assertThat(before.state()).as("as it was before").isEqualTo(ExportState.IN_PROGRESS);
        assertThat(jobs.find(job.id()).orElseThrow().state()).isEqualTo(ExportState.CANCELLED);
        assertThat(jobs.cancel(job.id(), job.ownerId(), T0.plusSeconds(2))).isEmpty();
        assertThat(jobs.renew(job.id(), "node-a", T0.plusSeconds(60), NO_PROGRESS))
                .as("the worker sees its job is gone").isFalse();

        assertThat(jobs.cancelledToClean("node-b", T0.plusSeconds(2), 1000))
                .as("node-a's lease still runs").doesNotContain(job.id());
        assertThat(jobs.cancelledToClean("node-a", T0.plusSeconds(2), 1000)).contains(job.id());
        assertThat(jobs.cancelledToClean("node-b", T0.plusSeconds(120), 1000)).contains(job.id());
        jobs.delete(job.id());
        assertThat(jobs.find(job.id())).isEmpty();
    }

    @Test
    void releaseLetsAnyNodeTakeTheJobsAtOnce() {
        ExportJob job = running("release-" + ExportFileStore.newJobId(), "node-r");
        assertThat(jobs.claimable("node-b", T0.plusSeconds(1), 1000)).doesNotContain(job.id());
        jobs.release("node-r", T0);
        assertThat(jobs.claimable("node-b", T0.plusSeconds(1), 1000)).contains(job.id());
    }

    @Test
    void finishedJobsExpireThenTheirRowsArePurged() {
        ExportJob job = running("expire-" + ExportFileStore.newJobId(), "node-a");
        jobs.completeTypes(job.id(), "node-a", Set.of("Patient"), List.of(file(job.id(), "Patient", 1)));
        Instant expires = T0.plus(Duration.ofHours(1));
        jobs.complete(job.id(), "node-a", T0, expires);

        assertThat(jobs.dueToExpire(expires.minusSeconds(1), 1000)).doesNotContain(job.id());
        assertThat(jobs.dueToExpire(expires.plusSeconds(1), 1000)).contains(job.id());
        assertThat(jobs.markExpired(job.id())).isTrue();
        assertThat(jobs.markExpired(job.id())).as("only once").isFalse();
        assertThat(jobs.find(job.id()).orElseThrow().state()).isEqualTo(ExportState.EXPIRED);

        jobs.purgeExpired(expires.minusSeconds(1));
        assertThat(jobs.find(job.id())).as("not expired long enough").isPresent();
        assertThat(jobs.purgeExpired(expires.plusSeconds(1))).isGreaterThanOrEqualTo(1);
        assertThat(jobs.find(job.id())).isEmpty();
        assertThat(jobs.files(job.id())).isEmpty();
    }

    @Test
    void aManifestPageIsFixedOnceWhoeverAsksFirst() {
        ExportJob job = running("pages-" + ExportFileStore.newJobId(), "node-a");
        assertThat(jobs.fixPage(job.id(), 1, 5)).isEqualTo(5);
        assertThat(jobs.fixPage(job.id(), 1, 9)).as("another node's later answer").isEqualTo(5);
        assertThat(jobs.fixPage(job.id(), 2, 9)).isEqualTo(9);
        assertThat(jobs.pageEnds(job.id())).containsExactly(5L, 9L);
    }

    @Test
    void countByStateSeesEveryState() {
        ExportJob job = running("count-" + ExportFileStore.newJobId(), "node-a");
        long running = jobs.countByState().getOrDefault(ExportState.IN_PROGRESS, 0L);
        jobs.complete(job.id(), "node-a", T0, T0.plusSeconds(60));
        assertThat(jobs.countByState().getOrDefault(ExportState.IN_PROGRESS, 0L)).isEqualTo(running - 1);
        assertThat(jobs.countByState()).containsKey(ExportState.COMPLETED);
    }
}
