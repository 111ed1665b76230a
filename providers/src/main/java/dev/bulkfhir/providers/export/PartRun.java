package dev.bulkfhir.providers.export;

import ca.uhn.fhir.parser.DataFormatException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.storage.export.ExportFile;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository.Part;
import dev.bulkfhir.storage.export.ExportJobRepository.Recorded;
import dev.bulkfhir.storage.export.ExportState;
import dev.bulkfhir.storage.export.NdjsonFiles;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.KeyRange;
import dev.bulkfhir.storage.source.ResourceSink;
import org.hl7.fhir.r4.model.Bundle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * One part of a spread job (a type, or a key range of one) claimed by this node, whichever node
 * prepared the job. It takes the first key range of the part ({@link dev.bulkfhir.storage.source.ResourceSource#firstRange}),
 * hands the rest back to the part table as a new part that any node's idle worker may take, streams its
 * range into NDJSON files of its own and records them with the part in one transaction; the node that
 * records a job's last part completes the job. A dead node's part is claimed again when its lease lapses
 * and written again from scratch (its half-written files are not recorded, and go when the job completes).
 */
final class PartRun {

    private static final Logger log = LoggerFactory.getLogger(PartRun.class);

    private final ExportContext context;
    private final ExportPlan plan;
    private final ExportJob job;
    private final String node;
    private volatile Part part;
    private final LongAdder resources = new LongAdder();
    private volatile JobRun.Stop stop;
    /** Tells the engine that there is a new part to claim. */
    private final Runnable wake;
    private final Consumer<PartRun> onEnd;
    /** The job failed on another part: what this part wrote after that failure's clean-up must go. */
    private volatile boolean failedElsewhere;

    /** @param onEnd told when the run has ended, whatever its outcome */
    PartRun(ExportContext context, ExportPlan plan, ExportJob job, Part part, Runnable wake, Consumer<PartRun> onEnd) {
        this.context = context;
        this.plan = plan;
        this.job = job;
        this.node = context.node();
        this.part = part;
        this.wake = wake;
        this.onEnd = onEnd;
    }

    String id() {
        return part.id();
    }

    String jobId() {
        return job.id();
    }

    long resources() {
        return resources.sum();
    }

    boolean stopped() {
        return stop != null;
    }

    JobRun.Stop stopReason() {
        return stop;
    }

    void stop(JobRun.Stop reason) {
        if (stop == null) stop = reason;
    }

    /** The part table refused an update of ours: the job stopped (cancel, failure) or another node has the part. */
    void refused() {
        ExportState state = context.jobs().find(job.id()).map(ExportJob::state).orElse(ExportState.CANCELLED);
        failedElsewhere = state == ExportState.FAILED;
        stop(state == ExportState.CANCELLED ? JobRun.Stop.CANCELLED : JobRun.Stop.LOST);
    }

    void run() {
        String type = part.type();
        try {
            if (stop != null) return;
            // Associated Provenance are picked over the whole type (Latest compares them all): one part.
            boolean provenancePass = plan.associated != null && type.equals("Provenance");
            KeyRange whole = part.range();
            KeyRange range = provenancePass ? whole : context.source().firstRange(type, whole,
                    context.settings().rangeResources());
            if (!range.equals(whole)) {
                Part rest = Part.of(job.id(), type, new KeyRange(range.upTo(), whole.upTo()));
                if (!context.jobs().splitPart(part, node, range, rest, Instant.now())) {
                    refused();
                    return;
                }
                part = new Part(part.id(), job.id(), type, range);
                wake.run();
            }
            ExportRequest request = plan.request;
            ExportQuery query = provenancePass
                    ? new ExportQuery(type, null, request.asOf(job.transactionTime()), false, null, range)
                            .inPartition(request.tenant())
                    : plan.scoped(type, new ExportQuery(type, request.sinceInstant(), request.asOf(job.transactionTime()),
                            request.patientCompartment(), plan.patients, range));
            LineTransform transform = plan.transform(type);
            try (NdjsonFiles out = context.outputFiles(job.id(), type);
                    NdjsonFiles errors = context.errorFiles(job.id());
                    NdjsonFiles deletions = context.deletionFiles(job.id())) {
                Sink sink = new Sink(type, out, errors, transform);
                if (provenancePass) {
                    plan.associated.export(query, sink);
                } else {
                    context.source().stream(query, sink);
                }
                if (request.since() != null) {
                    context.source().streamDeleted(query, (id, deletedAt, lastVersion) -> {
                        if (stop != null) throw JobRun.STOPPED;
                        if (matches(transform, lastVersion)) deletions.write(deletionLine(type, id, deletedAt));
                    });
                }
                if (stop != null) return;
                List<ExportFile> produced = new ArrayList<>(out.finish());
                produced.addAll(errors.finish());
                produced.addAll(deletions.finish());
                Instant now = Instant.now();
                Recorded recorded = context.jobs().completePart(part, node, produced, resources.sum(), now,
                        now.plus(context.settings().retention()));
                if (recorded == Recorded.REFUSED) {
                    out.abort();
                    errors.abort();
                    deletions.abort();
                    refused();
                    return;
                }
                context.metrics().written(produced);
                if (recorded == Recorded.COMPLETED) completed();
            }
        } catch (JobRun.Stopped e) {
            // the files were deleted on close; a cancel, shutdown or lost lease decides the rest
        } catch (IOException | RuntimeException | Error e) {
            // An Error too: a part that died without a word must never let the job complete.
            fail("Exporting " + type + " failed: " + e, e);
        } finally {
            if (failedElsewhere) {
                // The failing part deleted the job's files while this one still wrote: its folder goes too.
                try {
                    context.files().deleteJob(job.id());
                } catch (RuntimeException e) {
                    log.warn("Could not delete the files of failed export job {}: {}", job.id(), e.toString());
                }
            }
            onEnd.accept(this);
        }
    }

    /** This node recorded the job's last part: what a killed writer left unrecorded goes now. */
    private void completed() {
        Set<String> keep = new HashSet<>();
        long total = 0;
        for (ExportFile file : context.jobs().files(job.id())) {
            keep.add(file.location());
            if (!file.errorFile() && !file.deletedFile()) total += file.resourceCount();
        }
        context.files().deleteUnlisted(job.id(), keep);
        log.info("Export job {} completed on node {}: {} resources", job.id(), node, total);
        context.audit().record(AuditRecord.now(AuditAction.EXPORT_COMPLETED, 0, job.ownerId(), job.id(),
                plan.request.describe(), total, 0));
    }

    /** The job fails for every node: the others' parts are refused at their next renewal or record. */
    private void fail(String message, Throwable cause) {
        if (stop != null) return;
        stop = JobRun.Stop.FAILED;
        log.error("Export job {} failed: {}", job.id(), message, cause);
        Instant now = Instant.now();
        try {
            if (context.jobs().fail(job.id(), node, message, now, now.plus(context.settings().retention()))) {
                context.files().deleteJob(job.id());
                context.jobs().deleteFiles(job.id());
            }
        } catch (RuntimeException e) {
            log.warn("Could not record the failure of export job {}: {}", job.id(), e.toString());
        }
    }

    /**
     * Whether a deleted resource's last version passes the type's {@code _typeFilter}: a deletion is
     * reported when it did, or when that cannot be told (no last version, or an unreadable one).
     */
    private static boolean matches(LineTransform transform, byte[] lastVersion) {
        if (transform == null || lastVersion == null) return true;
        try {
            return transform.apply(lastVersion) != null;
        } catch (DataFormatException | IllegalArgumentException e) {
            return true;
        }
    }

    /** A line of the manifest's {@code deleted} files: a transaction Bundle with the one DELETE (the IG's form). */
    private byte[] deletionLine(String type, String id, Instant deletedAt) {
        Bundle bundle = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        bundle.getMeta().setLastUpdated(Date.from(deletedAt));
        bundle.addEntry().getRequest().setMethod(Bundle.HTTPVerb.DELETE).setUrl(type + "/" + id);
        return plan.context.newJsonParser().encodeResourceToString(bundle).getBytes(StandardCharsets.UTF_8);
    }

    /** Where the source's resources go: through the transform, if any, into the part's files. */
    private final class Sink implements ResourceSink {
        private final String type;
        private final NdjsonFiles out;
        private final NdjsonFiles errors;
        private final LineTransform transform;

        Sink(String type, NdjsonFiles out, NdjsonFiles errors, LineTransform transform) {
            this.type = type;
            this.out = out;
            this.errors = errors;
            this.transform = transform;
        }

        @Override
        public void resource(byte[] json) throws IOException {
            if (stop != null) throw JobRun.STOPPED;
            json = plan.transformed(type, transform, errors, json);
            if (json == null) return;
            out.write(json);
            resources.increment();
        }

        @Override
        public void error(String reference, String message) throws IOException {
            if (stop != null) throw JobRun.STOPPED;
            errors.write(OperationOutcomes.ndjsonLine("error", "processing", reference + ": " + message));
        }
    }
}
