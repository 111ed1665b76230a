package dev.bulkfhir.providers.export;

import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;

import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.util.OperationOutcomeUtil;
import dev.bulkfhir.storage.export.ExportFile;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.ExportState;
import dev.bulkfhir.storage.export.NdjsonFiles;
import dev.bulkfhir.storage.resource.PatientCompartment;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.KeyRange;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.ResourceSource;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;
import org.hl7.fhir.r4.model.Bundle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * One claimed job on this node: {@link #prepare} works out the types still to do and hands one task
 * per type to the worker pool (on a resumed job: one per part of a type left between its done ranges).
 * A task takes the first key range of its part ({@link ResourceSource#firstRange}), hands the rest on
 * as a new task, so that another worker can start on it at once, then streams its range from the
 * source into NDJSON files of its own and records them, with the range's done key
 * ({@link RangeKeys}), in one transaction. When the last task ends, the job is completed (or cleaned
 * up, if it was cancelled or failed; or simply left, if this node lost it or is stopping).
 */
final class JobRun {

    private static final Logger log = LoggerFactory.getLogger(JobRun.class);
    /** The done-types key of the file of request warnings. */
    private static final String REQUEST_WARNINGS = "#request";
    /** The done-types key of a batch of patients (organized output), followed by its number. */
    private static final String BATCH = "#patients:";
    /** Patients per batch of organized output: their index list stays small, their queries use the patient index. */
    static final int BATCH_PATIENTS = 500;

    enum Stop { CANCELLED, FAILED, LOST, SHUTDOWN }

    /** Thrown through the source to stop a stream; no stack trace, it is not an error. */
    private static final class Stopped extends RuntimeException {
        Stopped() {
            super("export stopped", null, false, false);
        }
    }

    private static final Stopped STOPPED = new Stopped();

    private final ExportEngine engine;
    private final ExportJob job;
    private final String node;
    private final Set<String> done = new LinkedHashSet<>();
    private final LongAdder resources = new LongAdder();
    /** Tasks not yet ended; prepare counts as one, so the job cannot finish before it has handed out all. */
    private final AtomicInteger pending = new AtomicInteger(1);
    private volatile Stop stop;
    private volatile String currentType;
    private volatile int typesTotal;
    private volatile long baseline;
    private ExportRequest request;
    private Set<String> patients;
    private Map<String, List<TypeFilter>> filters = Map.of();
    /** With includeAssociatedData: picks the Provenance to export. */
    private AssociatedProvenance associated;
    private final PatientCompartment compartment;
    /** Every done-types key this run must record before the job may complete. */
    private final Set<String> required = ConcurrentHashMap.newKeySet();
    /** The parts (type or ranges) of each type not yet recorded, for the progress count of done types. */
    private final Map<String, AtomicInteger> partsLeft = new ConcurrentHashMap<>();

    JobRun(ExportEngine engine, ExportJob job) {
        this.engine = engine;
        this.job = job;
        this.node = engine.nodeId();
        this.compartment = new PatientCompartment(engine.context);
    }

    String id() {
        return job.id();
    }

    boolean stopped() {
        return stop != null;
    }

    synchronized void stop(Stop reason) {
        if (stop == null) {
            stop = reason;
        } else if (reason == Stop.CANCELLED && stop != Stop.FAILED) {
            stop = reason; // a cancel wins: its files must go
        }
    }

    /** The job table refused an update of ours: cancelled meanwhile, or another node has it now. */
    void refused() {
        ExportState state = engine.jobs.find(job.id()).map(ExportJob::state).orElse(ExportState.CANCELLED);
        stop(state == ExportState.CANCELLED ? Stop.CANCELLED : Stop.LOST);
    }

    ExportJobRepository.Progress progress() {
        int typesDone = (int) partsLeft.values().stream().filter(left -> left.get() == 0).count();
        return new ExportJobRepository.Progress(typesTotal, typesDone, currentType, baseline + resources.sum());
    }

    void prepare() {
        try {
            if (stop != null) return;
            request = ExportRequest.fromJson(job.parameters());
            Instant asOf = job.transactionTime();
            List<String> types = new ArrayList<>();
            if (request.allTypes()) {
                for (String type : engine.types.defaults(organized() ? ExportRequest.Level.PATIENT : request.level())) {
                    if (stop != null) return;
                    if (engine.source.hasData(type)) types.add(type);
                }
            } else {
                types.addAll(request.types());
            }
            if (request.level() == ExportRequest.Level.GROUP) {
                Set<String> members = new HashSet<>(engine.source.groupMembers(request.groupId(), asOf).orElse(Set.of()));
                if (request.patients() != null) members.retainAll(request.patients());
                patients = members;
            } else if (request.patients() != null) {
                patients = new HashSet<>(request.patients());
            }
            Map<String, List<TypeFilter>> byType = new HashMap<>();
            for (String text : request.typeFilters()) {
                TypeFilter filter = TypeFilter.parse(engine.context, text);
                byType.computeIfAbsent(filter.type(), t -> new ArrayList<>()).add(filter);
            }
            filters = byType;
            if (request.associatedData() != null) {
                // The Provenance type is then exported as the Provenance of the other types' resources.
                Set<String> targets = new HashSet<>(types);
                targets.remove("Provenance");
                if (!types.contains("Provenance")) types.add("Provenance");
                associated = new AssociatedProvenance(engine.context, engine.source, request, targets, patients,
                        request.asOf(asOf), filters);
            }

            // Resume: keep what was recorded complete, drop whatever else a dead worker left behind.
            List<ExportFile> kept = engine.jobs.files(job.id());
            Set<String> keep = new HashSet<>();
            long keptResources = 0;
            for (ExportFile file : kept) {
                keep.add(file.location());
                if (!file.errorFile() && !file.deletedFile()) keptResources += file.resourceCount();
            }
            engine.files.deleteUnlisted(job.id(), keep);
            synchronized (done) {
                done.addAll(job.doneTypes());
            }
            baseline = keptResources;

            if (organized()) {
                prepareBatches(types, asOf);
                return;
            }
            Map<String, List<KeyRange>> parts = new HashMap<>();
            for (String type : types) {
                parts.put(type, RangeKeys.remaining(type, done));
            }
            typesTotal = types.size();
            parts.forEach((type, left) -> partsLeft.put(type, new AtomicInteger(left.size())));

            List<Runnable> tasks = warningTasks();
            for (String type : types) {
                for (KeyRange part : parts.get(type)) {
                    tasks.add(() -> exportPart(type, part));
                }
            }
            pending.addAndGet(tasks.size());
            tasks.forEach(engine::execute);
        } catch (Stopped e) {
            // stopped while listing the patients of organized output
        } catch (TypeFilter.Unsupported | IOException | RuntimeException | Error e) {
            fail("Preparing the export failed: " + e, e);
        } finally {
            taskEnded();
        }
    }

    private List<Runnable> warningTasks() {
        List<Runnable> tasks = new ArrayList<>();
        if (!request.warnings().isEmpty() && !done.contains(REQUEST_WARNINGS)) {
            required.add(REQUEST_WARNINGS);
            tasks.add(this::writeWarnings);
        }
        return tasks;
    }

    private boolean organized() {
        return request.organizeOutputBy() != null;
    }

    /**
     * Output organized by patient: the patients (sorted, so that a resumed job cuts the same batches)
     * in batches of {@link #BATCH_PATIENTS}, one task each; a batch's done key is {@code #patients:n}.
     */
    private void prepareBatches(List<String> types, Instant asOf) throws IOException {
        types.remove("Patient");
        if (request.allTypes() || request.types().contains("Patient")) types.add(0, "Patient");
        List<String> ids = new ArrayList<>();
        if (patients != null) {
            ids.addAll(patients);
        } else {
            Set<String> all = new HashSet<>();
            engine.source.stream(new ExportQuery("Patient", null, asOf, true, null), new ResourceSink() {
                @Override
                public boolean wantsPatients() {
                    return true;
                }

                @Override
                public void resource(byte[] json, Set<String> patientIds) {
                    if (stop != null) throw STOPPED;
                    all.addAll(patientIds);
                }

                @Override
                public void resource(byte[] json) {
                    resource(json, patientsOf(json));
                }

                @Override
                public void error(String reference, String message) {
                    // the Patient's own export reports it
                }
            });
            ids.addAll(all);
        }
        Collections.sort(ids);
        List<Runnable> tasks = warningTasks();
        int batches = (ids.size() + BATCH_PATIENTS - 1) / BATCH_PATIENTS;
        typesTotal = batches;
        for (int i = 0; i < batches; i++) {
            String key = BATCH + i;
            List<String> batch = List.copyOf(ids.subList(i * BATCH_PATIENTS, Math.min(ids.size(), (i + 1) * BATCH_PATIENTS)));
            boolean finished = done.contains(key);
            partsLeft.put(key, new AtomicInteger(finished ? 0 : 1));
            if (finished) continue;
            required.add(key);
            tasks.add(() -> exportBatch(key, batch, types));
        }
        pending.addAndGet(tasks.size());
        tasks.forEach(engine::execute);
    }

    /** One batch of patients: every type's resources of their compartments, then written block by block. */
    private void exportBatch(String key, List<String> batch, List<String> types) {
        try {
            if (stop != null) return;
            ExportSettings settings = engine.settings;
            Set<String> ids = new HashSet<>(batch);
            try (PatientBlocks blocks = new PatientBlocks(batch, engine.newScratchFile());
                    NdjsonFiles out = new NdjsonFiles(engine.files, job.id(), request.organizeOutputBy(), false,
                            settings.fileMaxResources(), settings.fileMaxBytes());
                    NdjsonFiles errors = new NdjsonFiles(engine.files, job.id(), "OperationOutcome", true,
                            settings.fileMaxResources(), settings.fileMaxBytes())) {
                for (String type : types) {
                    if (stop != null) return;
                    currentType = type;
                    ExportQuery query = new ExportQuery(type, request.sinceInstant(), job.transactionTime(), true, ids);
                    LineTransform transform = LineTransform.of(engine.context, type,
                            filters.getOrDefault(type, List.of()), request.elements());
                    engine.source.stream(query, new BlockSink(type, blocks, errors, transform));
                }
                if (stop != null) return;
                blocks.writeTo(out);
                List<ExportFile> produced = new ArrayList<>(out.finish());
                produced.addAll(errors.finish());
                if (record(key, produced)) {
                    partsLeft.get(key).decrementAndGet();
                } else {
                    out.abort();
                    errors.abort();
                }
            }
        } catch (Stopped e) {
            // as in exportPart
        } catch (IOException | RuntimeException | Error e) {
            fail("Exporting a batch of patients failed: " + e, e);
        } finally {
            taskEnded();
        }
    }

    /** The patients whose compartments hold a resource, for a source that does not say. */
    private Set<String> patientsOf(byte[] json) {
        return compartment.patientIds(engine.context.newJsonParser().parseResource(
                new String(json, StandardCharsets.UTF_8)));
    }

    /** The first key range of a part of a type (the whole type, if small); the rest as a task of its own. */
    private void exportPart(String type, KeyRange part) {
        try {
            if (stop != null) return;
            // Associated Provenance are picked over the whole type (Latest compares them all): one part.
            boolean provenancePass = associated != null && type.equals("Provenance");
            KeyRange range = provenancePass ? part : engine.source.firstRange(type, part, engine.settings.rangeResources());
            if (!range.equals(part)) {
                KeyRange rest = new KeyRange(range.upTo(), part.upTo());
                partsLeft.get(type).incrementAndGet();
                pending.incrementAndGet();
                engine.execute(() -> exportPart(type, rest));
            }
            required.add(RangeKeys.key(type, range));
            currentType = type;
            ExportQuery query = provenancePass
                    ? new ExportQuery(type, null, request.asOf(job.transactionTime()), false, null, range)
                    : new ExportQuery(type, request.sinceInstant(), request.asOf(job.transactionTime()),
                            request.patientCompartment(), patients, range);
            LineTransform transform = LineTransform.of(engine.context, type, filters.getOrDefault(type, List.of()),
                    request.elements());
            ExportSettings settings = engine.settings;
            try (NdjsonFiles out = new NdjsonFiles(engine.files, job.id(), type, false, settings.fileMaxResources(),
                    settings.fileMaxBytes());
                    NdjsonFiles errors = new NdjsonFiles(engine.files, job.id(), "OperationOutcome", true,
                            settings.fileMaxResources(), settings.fileMaxBytes());
                    NdjsonFiles deletions = new NdjsonFiles(engine.files, job.id(), "Bundle", false,
                            settings.fileMaxResources(), settings.fileMaxBytes(), true)) {
                Sink sink = new Sink(type, out, errors, transform);
                if (provenancePass) {
                    associated.export(query, sink);
                } else {
                    engine.source.stream(query, sink);
                }
                if (request.since() != null) {
                    engine.source.streamDeleted(query, (id, deletedAt, lastVersion) -> {
                        if (stop != null) throw STOPPED;
                        if (matches(transform, lastVersion)) deletions.write(deletionLine(type, id, deletedAt));
                    });
                }
                if (stop != null) return;
                List<ExportFile> produced = new ArrayList<>(out.finish());
                produced.addAll(errors.finish());
                produced.addAll(deletions.finish());
                if (record(RangeKeys.key(type, range), produced)) {
                    partsLeft.get(type).decrementAndGet();
                } else {
                    out.abort();
                    errors.abort();
                    deletions.abort();
                }
            }
        } catch (Stopped e) {
            // the files were deleted on close; cancel, shutdown or a lost lease decides the rest
        } catch (IOException | RuntimeException | Error e) {
            // An Error too: a task that died without a word must never let the job complete.
            fail("Exporting " + type + " failed: " + e, e);
        } finally {
            taskEnded();
        }
    }

    /** Request warnings (lenient handling, includeAssociatedData) as the first lines of the error file. */
    private void writeWarnings() {
        try {
            if (stop != null) return;
            try (NdjsonFiles errors = new NdjsonFiles(engine.files, job.id(), "OperationOutcome", true,
                    engine.settings.fileMaxResources(), engine.settings.fileMaxBytes())) {
                for (String warning : request.warnings()) {
                    errors.write(outcomeLine("warning", "informational", warning));
                }
                List<ExportFile> produced = errors.finish();
                if (!record(REQUEST_WARNINGS, produced)) errors.abort();
            }
        } catch (IOException | RuntimeException | Error e) {
            fail("Writing the error file failed: " + e, e);
        } finally {
            taskEnded();
        }
    }

    /** Records a finished part with its files; false (and the run stops) when the job is no longer ours. */
    private boolean record(String key, List<ExportFile> produced) {
        synchronized (done) {
            Set<String> next = new LinkedHashSet<>(done);
            next.add(key);
            if (stop != null || !engine.jobs.completeTypes(job.id(), node, next, produced)) {
                if (stop == null) refused();
                return false;
            }
            done.add(key);
            engine.metrics.written(produced);
            return true;
        }
    }

    private void fail(String message, Throwable cause) {
        synchronized (this) {
            if (stop != null) return;
            stop = Stop.FAILED;
        }
        log.error("Export job {} failed: {}", job.id(), message, cause);
        Instant now = Instant.now();
        try {
            engine.jobs.fail(job.id(), node, message, now, now.plus(engine.settings.retention()));
        } catch (RuntimeException e) {
            log.warn("Could not record the failure of export job {}: {}", job.id(), e.toString());
        }
    }

    private void taskEnded() {
        if (pending.decrementAndGet() == 0) {
            finish();
        }
    }

    /** After the last task: complete the job, or clean up after a cancel or failure. */
    private void finish() {
        try {
            Stop reason = stop;
            if (reason == null && request != null) {
                Set<String> missing = new HashSet<>(required);
                synchronized (done) {
                    missing.removeAll(done);
                }
                if (!missing.isEmpty()) {
                    fail("Internal error: " + missing + " did not finish", null);
                    reason = stop;
                }
            }
            if (reason == null) {
                Instant now = Instant.now();
                if (engine.jobs.complete(job.id(), node, now, now.plus(engine.settings.retention()))) {
                    if (stop == Stop.CANCELLED) {
                        // Cancelled right after: ExportEngine.cancelled left the files to this run.
                        reason = Stop.CANCELLED;
                    } else {
                        long total = baseline + resources.sum();
                        log.info("Export job {} completed: {} resources", job.id(), total);
                        engine.audit.record(AuditRecord.now(AuditAction.EXPORT_COMPLETED, 0, job.ownerId(), job.id(),
                                request == null ? null : request.describe(), total, 0));
                    }
                } else {
                    refused();
                    reason = stop;
                }
            }
            if (reason == Stop.CANCELLED) {
                engine.files.deleteJob(job.id());
                engine.jobs.delete(job.id());
                log.info("Export job {} stopped after its cancel; its files are deleted", job.id());
            } else if (reason == Stop.FAILED) {
                engine.files.deleteJob(job.id());
                engine.jobs.deleteFiles(job.id());
            }
        } catch (RuntimeException e) {
            log.warn("Finishing export job {} failed: {}", job.id(), e.toString(), e);
        } finally {
            engine.ended(this);
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
        return engine.context.newJsonParser().encodeResourceToString(bundle).getBytes(StandardCharsets.UTF_8);
    }

    private byte[] outcomeLine(String severity, String code, String message) {
        IBaseOperationOutcome outcome = OperationOutcomeUtil.newInstance(engine.context);
        OperationOutcomeUtil.addIssue(engine.context, outcome, severity, message, null, code);
        return engine.context.newJsonParser().encodeResourceToString(outcome).getBytes(StandardCharsets.UTF_8);
    }

    /** Where a batch's resources go (organized output): through the transform, if any, into its blocks. */
    private final class BlockSink implements ResourceSink {
        private final String type;
        private final PatientBlocks blocks;
        private final NdjsonFiles errors;
        private final LineTransform transform;

        BlockSink(String type, PatientBlocks blocks, NdjsonFiles errors, LineTransform transform) {
            this.type = type;
            this.blocks = blocks;
            this.errors = errors;
            this.transform = transform;
        }

        @Override
        public boolean wantsPatients() {
            return true;
        }

        @Override
        public void resource(byte[] json) throws IOException {
            Set<String> ids;
            try {
                ids = patientsOf(json);
            } catch (DataFormatException e) {
                error(type, "A stored " + type + " could not be read: " + e.getMessage());
                return;
            }
            resource(json, ids);
        }

        @Override
        public void resource(byte[] json, Set<String> patientIds) throws IOException {
            if (stop != null) throw STOPPED;
            if (transform != null) {
                try {
                    json = transform.apply(json);
                } catch (DataFormatException | IllegalArgumentException e) {
                    errors.write(outcomeLine("error", "processing", "A stored " + type
                            + " could not be read for _typeFilter or _elements: " + e.getMessage()));
                    return;
                }
                if (json == null) return;
            }
            blocks.add(json, patientIds);
            resources.increment();
        }

        @Override
        public void error(String reference, String message) throws IOException {
            if (stop != null) throw STOPPED;
            errors.write(outcomeLine("error", "processing", reference + ": " + message));
        }
    }

    /** Where the source's resources go: through the transform, if any, into the type's files. */
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
            if (stop != null) throw STOPPED;
            if (transform != null) {
                try {
                    json = transform.apply(json);
                } catch (DataFormatException | IllegalArgumentException e) {
                    errors.write(outcomeLine("error", "processing", "A stored " + type
                            + " could not be read for _typeFilter or _elements: " + e.getMessage()));
                    return;
                }
                if (json == null) return;
            }
            out.write(json);
            resources.increment();
        }

        @Override
        public void error(String reference, String message) throws IOException {
            if (stop != null) throw STOPPED;
            errors.write(outcomeLine("error", "processing", reference + ": " + message));
        }
    }
}
