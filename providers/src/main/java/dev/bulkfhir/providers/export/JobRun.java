package dev.bulkfhir.providers.export;

import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;

import ca.uhn.fhir.parser.DataFormatException;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
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
    /** The done-types key of a bucket of patients (organized output), followed by its number. */
    private static final String BUCKET = "#bucket:";
    /** The done-types key of the error files of organized output's first pass. */
    private static final String SPILL_ERRORS = "#spill-errors";
    /**
     * Organized output spreads the patients over this many buckets by the hash of their ids: the first
     * pass sorts each resource into its patients' buckets, the second writes each bucket's blocks.
     */
    static final int BUCKETS = 16;

    enum Stop { CANCELLED, FAILED, LOST, SHUTDOWN }

    /** Thrown through the source to stop a stream; no stack trace, it is not an error. */
    static final class Stopped extends RuntimeException {
        Stopped() {
            super("export stopped", null, false, false);
        }
    }

    static final Stopped STOPPED = new Stopped();

    private final ExportContext context;
    private final ExportJob job;
    private final String node;
    private final Executor workers;
    private final Consumer<JobRun> onEnd;
    private final Set<String> done = new LinkedHashSet<>();
    private final LongAdder resources = new LongAdder();
    /** Tasks not yet ended; prepare counts as one, so the job cannot finish before it has handed out all. */
    private final AtomicInteger pending = new AtomicInteger(1);
    private volatile Stop stop;
    private volatile String currentType;
    private volatile int typesTotal;
    private volatile long baseline;
    private ExportRequest request;
    private ExportPlan plan;
    /** A by-type job handed to part rows ({@link PartRun}): this run then neither completes nor cleans up. */
    private volatile boolean handedOff;
    private final PatientCompartment compartment;
    /** Organized output: each type's place in a block (Patient first). */
    private final Map<String, Integer> typeRanks = new HashMap<>();
    /** Organized output: the buckets this run writes, the first pass's tasks still running, their files. */
    private final Set<Integer> bucketsLeft = ConcurrentHashMap.newKeySet();
    private final AtomicInteger spillsLeft = new AtomicInteger();
    private final Map<Integer, List<Path>> spillFiles = new HashMap<>();
    private final List<ExportFile> spillErrors = Collections.synchronizedList(new ArrayList<>());
    /** Organized output: resources of several patients' compartments, stored once for all their blocks. */
    private SharedSpill shared;
    /** Every done-types key this run must record before the job may complete. */
    private final Set<String> required = ConcurrentHashMap.newKeySet();
    /** The parts (type or ranges) of each type not yet recorded, for the progress count of done types. */
    private final Map<String, AtomicInteger> partsLeft = new ConcurrentHashMap<>();

    /**
     * @param workers where its tasks run
     * @param onEnd   told once, after the last task has ended
     */
    JobRun(ExportContext context, ExportJob job, Executor workers, Consumer<JobRun> onEnd) {
        this.context = context;
        this.job = job;
        this.node = context.node();
        this.workers = workers;
        this.onEnd = onEnd;
        this.compartment = new PatientCompartment(context.fhir());
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
        ExportState state = context.jobs().find(job.id()).map(ExportJob::state).orElse(ExportState.CANCELLED);
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
            List<String> types = new ArrayList<>();
            if (request.allTypes()) {
                for (String type : context.types().defaults(organized() ? ExportRequest.Level.PATIENT : request.level())) {
                    if (stop != null) return;
                    if (context.source().hasData(type)) types.add(type);
                }
            } else {
                types.addAll(request.types());
            }
            if (request.associatedData() != null && !types.contains("Provenance")) types.add("Provenance");
            plan = ExportPlan.of(context, job, request, types);

            // Resume: keep what was recorded complete, drop whatever else a dead worker left behind.
            List<ExportFile> kept = context.jobs().files(job.id());
            Set<String> keep = new HashSet<>();
            long keptResources = 0;
            for (ExportFile file : kept) {
                keep.add(file.location());
                if (!file.errorFile() && !file.deletedFile()) keptResources += file.resourceCount();
            }
            context.files().deleteUnlisted(job.id(), keep);
            synchronized (done) {
                done.addAll(job.doneTypes());
            }
            baseline = keptResources;

            if (organized()) {
                prepareOrganized(types);
                return;
            }
            spread(types);
        } catch (TypeFilter.Unsupported | IOException | RuntimeException | Error e) {
            fail("Preparing the export failed: " + e, e);
        } finally {
            taskEnded();
        }
    }

    /**
     * A by-type job goes to the part table, one part per type (on a resumed job: per gap between its done
     * ranges), with the request's warnings recorded at once; from then on any node's workers write it.
     */
    private void spread(List<String> types) throws IOException {
        List<ExportFile> warnings = List.of();
        if (!request.warnings().isEmpty() && !done.contains(REQUEST_WARNINGS)) {
            try (NdjsonFiles errors = context.errorFiles(job.id())) {
                for (String warning : request.warnings()) {
                    errors.write(OperationOutcomes.ndjsonLine("warning", "informational", warning));
                }
                warnings = errors.finish();
            }
        }
        List<ExportJobRepository.Part> parts = new ArrayList<>();
        for (String type : types) {
            for (KeyRange range : RangeKeys.remaining(type, done)) {
                parts.add(ExportJobRepository.Part.of(job.id(), type, range));
            }
        }
        Instant now = Instant.now();
        ExportJobRepository.Recorded recorded = context.jobs().spread(job.id(), node, types.size(), baseline, warnings,
                parts, now, now.plus(context.settings().retention()));
        if (recorded == ExportJobRepository.Recorded.REFUSED) {
            for (ExportFile file : warnings) context.files().delete(file.location());
            refused();
            return;
        }
        handedOff = true;
        context.metrics().written(warnings);
        if (recorded == ExportJobRepository.Recorded.COMPLETED) {
            log.info("Export job {} completed: {} resources", job.id(), baseline);
            context.audit().record(AuditRecord.now(AuditAction.EXPORT_COMPLETED, 0, job.ownerId(), job.id(),
                    request.describe(), baseline, 0));
        } else {
            log.info("Export job {} spread over {} parts", job.id(), parts.size());
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
     * Output organized by patient, in two passes. First every type (range by range, as by type) is
     * read once and each resource goes into the spill files of its patients' buckets; when the last of
     * these tasks ends, each bucket not done yet becomes a task that writes its patients' resource
     * blocks ({@link PatientBlocks}) and records its files under {@code #bucket:n}. A resumed job
     * reads again what its buckets still need (spill files are not kept across runs).
     */
    private void prepareOrganized(List<String> types) {
        types.remove("Patient");
        if (request.allTypes() || request.types().contains("Patient")) types.add(0, "Patient");
        for (int i = 0; i < types.size(); i++) typeRanks.put(types.get(i), i);
        for (int i = 0; i < BUCKETS && !types.isEmpty(); i++) {
            if (!done.contains(BUCKET + i)) {
                bucketsLeft.add(i);
                required.add(BUCKET + i);
            }
        }
        typesTotal = types.size();
        List<Runnable> tasks = warningTasks();
        if (!bucketsLeft.isEmpty()) {
            for (String type : types) {
                partsLeft.put(type, new AtomicInteger(1));
                tasks.add(() -> spillPart(type, KeyRange.ALL));
            }
            spillsLeft.set(types.size());
        }
        pending.addAndGet(tasks.size());
        tasks.forEach(workers::execute);
    }

    /** First pass of organized output: one key range of a type into the buckets' spill files. */
    private void spillPart(String type, KeyRange part) {
        try {
            if (stop != null) return;
            KeyRange range = context.source().firstRange(type, part, context.settings().rangeResources());
            if (!range.equals(part)) {
                KeyRange rest = new KeyRange(range.upTo(), part.upTo());
                partsLeft.get(type).incrementAndGet();
                spillsLeft.incrementAndGet();
                pending.incrementAndGet();
                workers.execute(() -> spillPart(type, rest));
            }
            currentType = type;
            ExportQuery query = plan.scoped(type, new ExportQuery(type, request.sinceInstant(), job.transactionTime(),
                    true, plan.patients, range));
            LineTransform transform = plan.transform(type);
            try (BucketSpill spill = new BucketSpill();
                    NdjsonFiles errors = context.errorFiles(job.id())) {
                context.source().stream(query, new SpillSink(type, spill, errors, transform));
                if (stop != null) return;
                spill.finish();
                spillErrors.addAll(errors.finish());
            }
            partsLeft.get(type).decrementAndGet();
        } catch (Stopped e) {
            // as in exportPart
        } catch (IOException | RuntimeException | Error e) {
            fail("Exporting " + type + " failed: " + e, e);
        } finally {
            if (spillsLeft.decrementAndGet() == 0 && stop == null) startBuckets();
            taskEnded();
        }
    }

    /** After the first pass: its error files recorded, then one task per bucket left. */
    private void startBuckets() {
        try {
            List<ExportFile> errors;
            synchronized (spillErrors) {
                errors = List.copyOf(spillErrors);
            }
            if (!errors.isEmpty() && !done.contains(SPILL_ERRORS)) {
                required.add(SPILL_ERRORS);
                if (!record(SPILL_ERRORS, errors)) return;
            }
            for (int bucket : bucketsLeft) {
                pending.incrementAndGet();
                workers.execute(() -> exportBucket(bucket));
            }
        } catch (RuntimeException | Error e) {
            fail("Recording the error files failed: " + e, e);
        }
    }

    /** Second pass of organized output: a bucket's spill files read back and written as resource blocks. */
    private void exportBucket(int bucket) {
        List<Path> spills;
        synchronized (spillFiles) {
            spills = List.copyOf(spillFiles.getOrDefault(bucket, List.of()));
        }
        try {
            if (stop != null) return;
            try (PatientBlocks blocks = new PatientBlocks(context.newScratchFile(), sharedPath());
                    NdjsonFiles out = context.outputFiles(job.id(), request.organizeOutputBy())) {
                for (Path file : spills) {
                    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file),
                            1 << 16))) {
                        while (true) {
                            int idLength;
                            try {
                                idLength = in.readUnsignedShort();
                            } catch (EOFException end) {
                                break;
                            }
                            String id = new String(in.readNBytes(idLength), StandardCharsets.UTF_8);
                            int rank = in.readUnsignedByte();
                            int length = in.readInt();
                            if (length >= 0) {
                                blocks.add(in.readNBytes(length), id, rank);
                            } else {
                                long offset = in.readLong();
                                blocks.addShared(offset, in.readInt(), id, rank);
                            }
                        }
                    }
                    if (stop != null) return;
                }
                blocks.writeTo(out);
                if (stop != null) return;
                if (!record(BUCKET + bucket, out.finish())) out.abort();
            }
        } catch (IOException | RuntimeException | Error e) {
            fail("Writing the resource blocks failed: " + e, e);
        } finally {
            for (Path file : spills) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    log.warn("Could not delete {}: {}", file, e.toString());
                }
            }
            taskEnded();
        }
    }

    /** A first-pass task's spill files, one per bucket, made on the first record: [id][type rank][JSON]. */
    private final class BucketSpill implements AutoCloseable {
        private final Path[] paths = new Path[BUCKETS];
        private final DataOutputStream[] outs = new DataOutputStream[BUCKETS];
        private boolean finished;

        void write(String patientId, int rank, byte[] json) throws IOException {
            DataOutputStream out = open(patientId);
            if (out == null) return;
            out.writeByte(rank);
            out.writeInt(json.length);
            out.write(json);
        }

        /** A record pointing at a resource in the run's shared file: length -1, then its offset and length. */
        void writeShared(String patientId, int rank, long offset, int length) throws IOException {
            DataOutputStream out = open(patientId);
            if (out == null) return;
            out.writeByte(rank);
            out.writeInt(-1);
            out.writeLong(offset);
            out.writeInt(length);
        }

        /** Starts a record of the patient's bucket (id and rank follow); null when the bucket is done already. */
        private DataOutputStream open(String patientId) throws IOException {
            int bucket = Math.floorMod(patientId.hashCode(), BUCKETS);
            if (!bucketsLeft.contains(bucket)) return null;
            if (outs[bucket] == null) {
                paths[bucket] = context.newScratchFile();
                outs[bucket] = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(paths[bucket],
                        StandardOpenOption.WRITE), 1 << 15));
            }
            byte[] id = patientId.getBytes(StandardCharsets.UTF_8);
            DataOutputStream out = outs[bucket];
            out.writeShort(id.length);
            out.write(id);
            return out;
        }

        /** Closes the files and hands them to their buckets. */
        void finish() throws IOException {
            for (int i = 0; i < BUCKETS; i++) {
                if (outs[i] == null) continue;
                outs[i].close();
                outs[i] = null;
                synchronized (spillFiles) {
                    spillFiles.computeIfAbsent(i, b -> new ArrayList<>()).add(paths[i]);
                }
            }
            finished = true;
        }

        @Override
        public void close() throws IOException {
            if (finished) return;
            for (int i = 0; i < BUCKETS; i++) {
                if (outs[i] != null) outs[i].close();
                if (paths[i] != null) Files.deleteIfExists(paths[i]);
            }
        }
    }

    private synchronized SharedSpill shared() throws IOException {
        if (shared == null) shared = new SharedSpill(context.newScratchFile());
        return shared;
    }

    /** The shared file for the buckets to read (complete: every first-pass task has ended), or null. */
    private synchronized Path sharedPath() throws IOException {
        if (shared == null) return null;
        shared.flush();
        return shared.path;
    }

    /** The run's file of resources that several patients' blocks hold, appended to by every first-pass task. */
    private static final class SharedSpill {
        private final Path path;
        private final OutputStream out;
        private long size;

        SharedSpill(Path path) throws IOException {
            this.path = path;
            this.out = new BufferedOutputStream(Files.newOutputStream(path, StandardOpenOption.WRITE), 1 << 16);
        }

        synchronized long append(byte[] json) throws IOException {
            long at = size;
            out.write(json);
            size += json.length;
            return at;
        }

        synchronized void flush() throws IOException {
            out.flush();
        }

        synchronized void delete() {
            try {
                out.close();
                Files.deleteIfExists(path);
            } catch (IOException e) {
                log.warn("Could not delete {}: {}", path, e.toString());
            }
        }
    }

    /** The patients whose compartments hold a resource, for a source that does not say. */
    private Set<String> patientsOf(byte[] json) {
        return compartment.patientIds(context.fhir().newJsonParser().parseResource(
                new String(json, StandardCharsets.UTF_8)));
    }

    /** Request warnings (lenient handling, includeAssociatedData) as the first lines of the error file. */
    private void writeWarnings() {
        try {
            if (stop != null) return;
            try (NdjsonFiles errors = context.errorFiles(job.id())) {
                for (String warning : request.warnings()) {
                    errors.write(OperationOutcomes.ndjsonLine("warning", "informational", warning));
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
            if (stop != null || !context.jobs().completeTypes(job.id(), node, next, produced)) {
                if (stop == null) refused();
                return false;
            }
            done.add(key);
            context.metrics().written(produced);
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
            context.jobs().fail(job.id(), node, message, now, now.plus(context.settings().retention()));
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
            if (reason == null && handedOff) {
                return; // the parts' nodes complete the job
            }
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
                if (context.jobs().complete(job.id(), node, now, now.plus(context.settings().retention()))) {
                    if (stop == Stop.CANCELLED) {
                        // Cancelled right after: ExportEngine.cancelled left the files to this run.
                        reason = Stop.CANCELLED;
                    } else {
                        long total = baseline + resources.sum();
                        log.info("Export job {} completed: {} resources", job.id(), total);
                        context.audit().record(AuditRecord.now(AuditAction.EXPORT_COMPLETED, 0, job.ownerId(), job.id(),
                                request == null ? null : request.describe(), total, 0));
                    }
                } else {
                    refused();
                    reason = stop;
                }
            }
            if (reason == Stop.CANCELLED) {
                context.files().deleteJob(job.id());
                context.jobs().delete(job.id());
                log.info("Export job {} stopped after its cancel; its files are deleted", job.id());
            } else if (reason == Stop.FAILED) {
                context.files().deleteJob(job.id());
                context.jobs().deleteFiles(job.id());
            }
        } catch (RuntimeException e) {
            log.warn("Finishing export job {} failed: {}", job.id(), e.toString(), e);
        } finally {
            synchronized (this) {
                if (shared != null) shared.delete();
            }
            onEnd.accept(this);
        }
    }

    /** Where the first pass of organized output sends a type's resources: through the transform, to the buckets. */
    private final class SpillSink implements ResourceSink {
        private final String type;
        private final int rank;
        private final BucketSpill spill;
        private final NdjsonFiles errors;
        private final LineTransform transform;

        SpillSink(String type, BucketSpill spill, NdjsonFiles errors, LineTransform transform) {
            this.type = type;
            this.rank = typeRanks.get(type);
            this.spill = spill;
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
            json = plan.transformed(type, transform, errors, json);
            if (json == null) return;
            long sharedAt = -1;
            for (String id : patientIds) {
                if (plan.patients != null && !plan.patients.contains(id)) continue;
                if (patientIds.size() == 1) {
                    spill.write(id, rank, json);
                } else {
                    if (sharedAt < 0) sharedAt = shared().append(json);
                    spill.writeShared(id, rank, sharedAt, json.length);
                }
            }
            resources.increment();
        }

        @Override
        public void error(String reference, String message) throws IOException {
            if (stop != null) throw STOPPED;
            errors.write(OperationOutcomes.ndjsonLine("error", "processing", reference + ": " + message));
        }
    }
}
