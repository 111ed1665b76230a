package dev.bulkfhir.providers.export;

import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.util.DateUtils;
import ca.uhn.fhir.util.OperationOutcomeUtil;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.bulkfhir.providers.export.ExportRequest.Level;
import dev.bulkfhir.providers.ServerBase;
import dev.bulkfhir.storage.export.ExportFile;
import dev.bulkfhir.providers.binary.BinaryErrors;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.ExportState;
import dev.bulkfhir.storage.resource.ResourceStore;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Patient;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Bulk Data operations: kickoff at system, Patient and Group level (GET, or POST with a
 * Parameters body), and the status URL {@code [base]/$export-poll-status?_jobId=[id]} (GET for status
 * or manifest, DELETE to cancel). Responses are written here (manual responses), because HAPI's
 * operation answers are always 200 with a resource, while export needs 202, 429 and a plain-JSON
 * manifest.
 */
public final class ExportOperations {

    static final String EXPORT_DEFINITION = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
    static final String PATIENT_EXPORT_DEFINITION = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
    static final String GROUP_EXPORT_DEFINITION = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";
    static final String STATUS_OPERATION = "$export-poll-status";
    /** The longest wait a client over a limit is told, however slow the running exports look. */
    private static final long MAX_LIMIT_RETRY_AFTER = 120;
    private static final JsonFactory JSON = new JsonFactory();

    private final FhirContext context;
    private final ExportEngine engine;
    private final ExportJobRepository jobs;
    private final ClientIdentity identity;
    private final ServerBase base;
    private final KickoffParser parser;
    private final PollThrottle pollThrottle = new PollThrottle();

    ExportOperations(ExportEngine engine, ClientIdentity identity, ServerBase base) {
        this.base = base;
        this.context = engine.context;
        this.engine = engine;
        this.jobs = engine.jobs;
        this.identity = identity;
        this.parser = new KickoffParser(engine.context, engine.types, engine.source);
    }

    @Operation(name = "$export", idempotent = true, manualResponse = true, canonicalUrl = EXPORT_DEFINITION)
    public void exportSystem(RequestDetails details, HttpServletRequest request, HttpServletResponse response)
            throws IOException {
        kickoff(Level.SYSTEM, null, details, request);
    }

    @Operation(name = "$export", type = Patient.class, idempotent = true, manualResponse = true,
            canonicalUrl = PATIENT_EXPORT_DEFINITION)
    public void exportPatients(RequestDetails details, HttpServletRequest request, HttpServletResponse response)
            throws IOException {
        kickoff(Level.PATIENT, null, details, request);
    }

    @Operation(name = "$export", type = Group.class, idempotent = true, manualResponse = true,
            canonicalUrl = GROUP_EXPORT_DEFINITION)
    public void exportGroup(@IdParam IdType group, RequestDetails details, HttpServletRequest request,
            HttpServletResponse response) throws IOException {
        kickoff(Level.GROUP, group.getIdPart(), details, request);
    }

    /** GET: 202 with progress, 200 with the manifest, or the job's error; DELETE: cancel. */
    @Operation(name = STATUS_OPERATION, idempotent = true, deleteEnabled = true, manualResponse = true)
    public void status(RequestDetails details, HttpServletRequest request, HttpServletResponse response)
            throws IOException {
        String[] ids = details.getParameters().get("_jobId");
        if (ids == null || ids.length != 1 || ids[0].isBlank()) {
            throw new InvalidRequestException("The status URL needs one _jobId parameter, as given in the kickoff's"
                    + " Content-Location.", ExportErrors.outcome(context, "error", "required",
                    "The status URL needs one _jobId parameter, as given in the kickoff's Content-Location."));
        }
        ExportClient client = identity.of(details);
        String jobId = ids[0].trim();
        if (details.getRequestType() == RequestTypeEnum.DELETE) {
            cancel(jobId, client, details);
            return;
        }
        ExportJob job = ExportFileStore.isJobId(jobId) ? jobs.findOwned(jobId, client.id()).orElse(null) : null;
        if (job == null || job.state() == ExportState.CANCELLED) {
            throw unknownJob();
        }
        int page = page(details);
        ExportRequest exportRequest = ExportRequest.fromJson(job.parameters());
        if (page > 1 && !exportRequest.allowPartialManifests()) {
            throw unknownPage(page);
        }
        switch (job.state()) {
            case ACCEPTED, IN_PROGRESS -> {
                if (exportRequest.allowPartialManifests()) {
                    partial(job, client, exportRequest, page, details, response);
                } else {
                    inProgress(job, details, response, null);
                }
            }
            case COMPLETED -> {
                if (exportRequest.allowPartialManifests()) {
                    partial(job, client, exportRequest, page, details, response);
                } else {
                    manifest(job, client, details, response);
                }
            }
            case FAILED -> throw ExportErrors.status(context, 500, "exception", "The export failed: "
                    + job.errorText() + " Start a new export.");
            default -> throw ExportErrors.status(context, 410, "expired", "This export expired at "
                    + job.expiresAt() + "; its files are deleted. Start a new export.");
        }
    }

    private void kickoff(Level level, String groupId, RequestDetails details, HttpServletRequest request)
            throws IOException {
        // Before any write still open, so that the next _since export finds what those commit.
        Instant transactionTime = engine.source.transactionTime();
        Map<String, String[]> query = details.getParameters();
        // HAPI would apply the export's _elements to the kickoff's own OperationOutcome.
        Map<String, String[]> withoutElements = new HashMap<>(query);
        withoutElements.remove(Constants.PARAM_ELEMENTS);
        details.setParameters(withoutElements);

        ExportClient client = identity.of(details);
        Set<String> members = null;
        if (level == Level.GROUP) {
            if (!ResourceStore.isValidId(groupId)) {
                throw ExportErrors.notFound(context, "Group/" + groupId + " is not known to this server.");
            }
            members = engine.source.groupMembers(groupId, transactionTime, details.getTenantId()).orElseThrow(() ->
                    ExportErrors.notFound(context, "Group/" + groupId + " is not known to this server."));
        }
        KickoffParser.Parsed parsed = parser.parse(details, query, level, groupId, members, client,
                transactionTime);

        String jobId = ExportFileStore.newJobId();
        ExportJob job = new ExportJob(jobId, client.id(), requestUrl(details, request), parsed.request().toJson(),
                transactionTime);
        try {
            // Counted and inserted under a row lock in the database: the limits hold across nodes.
            ExportJobRepository.ActiveJobs active = jobs.admit(job, engine.settings.maxJobsPerClient(),
                    engine.settings.maxJobs());
            long mine = active.owner();
            if (mine >= engine.settings.maxJobsPerClient()) {
                throw tooMany(client.id(), "This client already has " + mine + " exports waiting or running, the most allowed"
                        + " at once (" + engine.settings.maxJobsPerClient() + "). Retry after one finishes, or"
                        + " cancel one with DELETE on its status URL.");
            }
            if (active.all() >= engine.settings.maxJobs()) {
                throw tooMany(null, "The server is running as many exports as it allows at once ("
                        + engine.settings.maxJobs() + "). Retry later.");
            }
        } catch (RuntimeException e) {
            if (!connectionTimeout(e)) throw e;
            // No database connection in time: the server is saturated, a reason to come back later, not a 5xx.
            throw tooMany(1, "The server is too busy to accept an export now. Retry later.");
        }
        engine.audit.record(AuditRecord.now(AuditAction.EXPORT_KICKOFF, 202, client.id(), jobId,
                parsed.request().describe(), 0, 0));
        String statusUrl = base.of(details) + "/" + STATUS_OPERATION + "?_jobId=" + jobId;
        IBaseOperationOutcome outcome = OperationOutcomeUtil.newInstance(context);
        OperationOutcomeUtil.addIssue(context, outcome, "information", "Export accepted, as of " + transactionTime
                + ". Poll " + statusUrl + " for its status.", null, "informational");
        for (String warning : parsed.warnings()) {
            OperationOutcomeUtil.addIssue(context, outcome, "warning", warning, null, "not-supported");
        }
        details.getResponse().addHeader(Constants.HEADER_CONTENT_LOCATION, statusUrl);
        try {
            RestfulServerUtils.streamResponseAsResource(details.getServer(), outcome, Set.of(), 202, false,
                    details.isRespondGzip(), details);
        } finally {
            // Only now: a worker starting on the job would compete with this answer for the CPU.
            engine.wake();
        }
    }

    /** The kickoff URL as the client sent it, on the plugin's base URL. */
    private String requestUrl(RequestDetails details, HttpServletRequest request) {
        String query = request.getQueryString();
        return base.of(details) + "/" + details.getRequestPath()
                + (query == null || query.isEmpty() ? "" : "?" + query);
    }

    /** {@code _page} of the status URL: 1 (the status URL itself) unless a manifest's {@code next} link says more. */
    private int page(RequestDetails details) {
        String[] pages = details.getParameters().get("_page");
        if (pages == null) return 1;
        try {
            int page = pages.length == 1 ? Integer.parseInt(pages[0].trim()) : 0;
            if (page >= 1) return page;
        } catch (NumberFormatException e) {
            // below
        }
        throw ExportErrors.status(context, 400, "invalid", "_page takes one page number (1 or more), as given in"
                + " a manifest's next link.");
    }

    private BaseServerResponseException unknownPage(int page) {
        return ExportErrors.notFound(context, "This export's manifest has no page " + page + " (yet): follow the"
                + " manifest's next link.");
    }

    /** The files of one manifest page, in the order they were recorded, and whether more files follow. */
    private record Page(List<ExportFile> files, boolean more) {}

    /**
     * allowPartialManifests (IG STU3): the manifest comes in pages of at most the configured number of
     * files, in the order the files were recorded, linked by {@code next}. While the job runs, the status
     * URL (page 1) and each next link answer 202 with the page's files available so far; a page that was
     * answered with files is fixed (in the job table) and keeps exactly those for good, later files go to
     * the next page. Once the job is complete, every page answers 200. Error files are paged with the
     * data files, in the order recorded.
     */
    private void partial(ExportJob job, ExportClient client, ExportRequest exportRequest, int number,
            RequestDetails details, HttpServletResponse response) throws IOException {
        boolean running = job.state() != ExportState.COMPLETED;
        List<ExportFile> all = jobs.files(job.id()).stream()
                .sorted(java.util.Comparator.comparingLong(ExportFile::ordinal)).toList();
        List<Long> ends = jobs.pageEnds(job.id());
        int size = engine.settings.manifestPageSize();
        int from = 0;
        for (int k = 1; k < number; k++) {
            if (k <= ends.size()) {
                from = upTo(all, ends.get(k - 1));
            } else if (running) {
                throw unknownPage(number);
            } else {
                from = Math.min(all.size(), from + size);
            }
        }
        int to;
        if (number <= ends.size()) {
            to = upTo(all, ends.get(number - 1));
        } else {
            to = Math.min(all.size(), from + size);
            if (number > 1 && !running && to == from) throw unknownPage(number);
            if (running && to > from) {
                to = upTo(all, jobs.fixPage(job.id(), number, all.get(to - 1).ordinal()));
            }
        }
        Page page = new Page(all.subList(from, to), all.size() > to);
        if (running && page.files().isEmpty()) {
            inProgress(job, details, response, null);
            return;
        }
        checkOnDisk(page.files());
        if (!running) pollThrottle.forget(job.id());
        String next = page.more() ? base.of(details) + "/" + STATUS_OPERATION + "?_jobId=" + job.id() + "&_page="
                + (number + 1) : null;
        ByteArrayOutputStream body = manifestBody(job, client, exportRequest, page.files(), base.of(details), next);
        if (running) {
            inProgress(job, details, response, body);
            return;
        }
        writeManifest(job, details, response, body);
    }

    /** How many of the files (sorted by number) have a number up to {@code last}. */
    private static int upTo(List<ExportFile> files, long last) {
        int count = 0;
        while (count < files.size() && files.get(count).ordinal() <= last) count++;
        return count;
    }

    /** 202 with progress headers; with {@code partialManifest}, that as the body (allowPartialManifests). */
    private void inProgress(ExportJob job, RequestDetails details, HttpServletResponse response,
            ByteArrayOutputStream partialManifest) throws IOException {
        ExportJobRepository.Progress progress = engine.progress(job.id()).orElse(new ExportJobRepository.Progress(
                job.typesTotal(), job.typesDone(), job.currentType(), job.resourcesDone()));
        String text;
        if (job.state() == ExportState.ACCEPTED) {
            text = "waiting for a worker";
        } else if (progress.typesTotal() == 0) {
            text = "starting";
        } else {
            text = (progress.currentType() == null ? "exporting" : "exporting " + progress.currentType()) + ": "
                    + progress.typesDone() + " of " + progress.typesTotal() + " types, " + progress.resourcesDone()
                    + " resources";
        }
        long retryAfter = retryAfter(job);
        long tooSoon = pollThrottle.poll(job.id(), retryAfter, System.nanoTime());
        if (tooSoon > 0) {
            BaseServerResponseException error = ExportErrors.status(context, 429, "throttled", "This export's status"
                    + " is polled much more often than the Retry-After given (" + retryAfter + " s). Wait " + tooSoon
                    + " s, then poll at most once per Retry-After.");
            error.addResponseHeader(Constants.HEADER_RETRY_AFTER, Long.toString(tooSoon));
            throw error;
        }
        copyHapiHeaders(details, response);
        response.setStatus(HttpServletResponse.SC_ACCEPTED);
        response.setHeader("X-Progress", text.length() > 99 ? text.substring(0, 99) : text);
        response.setHeader(Constants.HEADER_RETRY_AFTER, Long.toString(retryAfter));
        if (partialManifest == null) {
            response.setContentLength(0);
            return;
        }
        response.setContentType("application/json");
        response.setContentLength(partialManifest.size());
        try (OutputStream out = response.getOutputStream()) {
            partialManifest.writeTo(out);
        }
    }

    /**
     * Short while the export is young (most finish within seconds), longer as it runs on: a tenth of
     * the time it has taken so far, between 1 and 10 seconds.
     */
    private static long retryAfter(ExportJob job) {
        if (job.state() != ExportState.IN_PROGRESS || job.startedAt() == null) {
            return 1;
        }
        long elapsed = Duration.between(job.startedAt(), Instant.now()).toSeconds();
        return Math.max(1, Math.min(10, elapsed / 10));
    }

    private void manifest(ExportJob job, ExportClient client, RequestDetails details, HttpServletResponse response)
            throws IOException {
        pollThrottle.forget(job.id());
        List<ExportFile> files = jobs.files(job.id());
        checkOnDisk(files);
        ExportRequest request = ExportRequest.fromJson(job.parameters());
        if (request.organizeOutputBy() != null) {
            // In the order written, so that a file's continuation follows it.
            files = files.stream().sorted(java.util.Comparator.comparing(ExportFile::errorFile)
                    .thenComparingLong(ExportFile::ordinal)).toList();
        }
        writeManifest(job, details, response, manifestBody(job, client, request, files, this.base.of(details), null));
    }

    /** Promise no file that is gone from disk: the whole export is then no longer to be had. */
    private void checkOnDisk(List<ExportFile> files) {
        List<String> missing = files.stream()
                .filter(file -> !engine.files.content(file.location(), file.byteCount()).isAvailable())
                .map(ExportFile::id).toList();
        if (!missing.isEmpty()) {
            throw BinaryErrors.missingContent(context, missing);
        }
    }

    private void writeManifest(ExportJob job, RequestDetails details, HttpServletResponse response,
            ByteArrayOutputStream body) throws IOException {
        copyHapiHeaders(details, response);
        response.setStatus(HttpServletResponse.SC_OK);
        // JSON is UTF-8 by definition (RFC 8259): no charset parameter, and none wrong.
        response.setContentType("application/json");
        if (job.expiresAt() != null) {
            response.setHeader("Expires", DateUtils.formatDate(Date.from(job.expiresAt())));
        }
        response.setContentLength(body.size());
        try (OutputStream out = response.getOutputStream()) {
            body.writeTo(out);
        }
    }

    /**
     * A manifest: its fields, then the files given. Output organized by a type (IG STU3) names it in
     * {@code outputOrganizedBy}; its files then hold several types (no {@code type}), count their
     * resources without the block headers (as the SMART bulk-data-client checks them), and name the file
     * a cut block goes on in ({@code continuesInFile}).
     * An export with {@code _since} has a {@code deleted} section (IG: SHOULD); without, there are none.
     */
    private static ByteArrayOutputStream manifestBody(ExportJob job, ExportClient client, ExportRequest request,
            List<ExportFile> files, String base, String next) throws IOException {
        String organizedBy = request.organizeOutputBy();
        List<String> sections = request.since() != null ? List.of("output", "deleted", "error")
                : List.of("output", "error");
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        try (JsonGenerator json = JSON.createGenerator(body)) {
            json.writeStartObject();
            json.writeStringField("transactionTime", job.transactionTime().toString());
            json.writeStringField("request", job.requestUrl());
            json.writeBooleanField("requiresAccessToken", client.requiresAccessToken());
            if (organizedBy != null) json.writeStringField("outputOrganizedBy", organizedBy);
            for (String section : sections) {
                json.writeArrayFieldStart(section);
                for (ExportFile file : files) {
                    String kind = file.errorFile() ? "error" : file.deletedFile() ? "deleted" : "output";
                    if (!kind.equals(section)) continue;
                    json.writeStartObject();
                    if (!kind.equals("output") || organizedBy == null) json.writeStringField("type", file.type());
                    json.writeStringField("url", base + "/Binary/" + file.id());
                    json.writeNumberField("count", file.resourceCount());
                    if (file.continuesIn() != null) {
                        json.writeStringField("continuesInFile", base + "/Binary/" + file.continuesIn());
                    }
                    json.writeEndObject();
                }
                json.writeEndArray();
            }
            if (next != null) {
                json.writeArrayFieldStart("link");
                json.writeStartObject();
                json.writeStringField("relation", "next");
                json.writeStringField("url", next);
                json.writeEndObject();
                json.writeEndArray();
            }
            json.writeEndObject();
        }
        return body;
    }

    private void cancel(String jobId, ExportClient client, RequestDetails details) throws IOException {
        ExportJob before = ExportFileStore.isJobId(jobId)
                ? jobs.cancel(jobId, client.id(), Instant.now()).orElse(null) : null;
        if (before == null) {
            throw unknownJob();
        }
        pollThrottle.forget(jobId);
        engine.audit.record(AuditRecord.now(AuditAction.EXPORT_CANCELLED, 202, client.id(), jobId,
                "was " + before.state(), before.resourcesDone(), 0));
        engine.cancelled(before);
        IBaseOperationOutcome outcome = ExportErrors.outcome(context, "information", "informational",
                "Export " + jobId + " was cancelled" + (before.state() == ExportState.COMPLETED
                        ? "; its files are deleted." : " and stops; its files are deleted."));
        RestfulServerUtils.streamResponseAsResource(details.getServer(), outcome, Set.of(), 202, false,
                details.isRespondGzip(), details);
    }

    private static boolean connectionTimeout(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof java.sql.SQLTransientConnectionException) return true;
        }
        return false;
    }

    private BaseServerResponseException unknownJob() {
        return ExportErrors.notFound(context, "No such export: it was never started, was cancelled, or belongs to"
                + " another client.");
    }

    /** Over a job limit: of the client {@code ownerId}, or of the whole server if it is null. */
    private BaseServerResponseException tooMany(String ownerId, String message) {
        return tooMany(expectedWait(jobs.active(ownerId, engine.settings.maxJobs()), Instant.now()), message);
    }

    private BaseServerResponseException tooMany(long retryAfterSeconds, String message) {
        BaseServerResponseException error = ExportErrors.status(context, 429, "throttled", message);
        error.addResponseHeader(Constants.HEADER_RETRY_AFTER, Long.toString(retryAfterSeconds));
        return error;
    }

    /**
     * Seconds until the first of these jobs is likely to end and free its slot (1 to
     * {@link #MAX_LIMIT_RETRY_AFTER}): a running job's remaining types at the pace of those done, or,
     * before a type is done, as long again as it has run (a waiting job: as long as it has waited).
     */
    private long expectedWait(List<ExportJob> active, Instant now) {
        long soonest = MAX_LIMIT_RETRY_AFTER;
        for (ExportJob job : active) {
            ExportJobRepository.Progress progress = engine.progress(job.id()).orElse(new ExportJobRepository.Progress(
                    job.typesTotal(), job.typesDone(), job.currentType(), job.resourcesDone()));
            Instant since = job.startedAt() != null ? job.startedAt() : job.createdAt();
            double elapsed = Math.max(0, Duration.between(since, now).toMillis()) / 1000.0;
            double remaining = progress.typesDone() > 0 && progress.typesTotal() > progress.typesDone()
                    ? elapsed * (progress.typesTotal() - progress.typesDone()) / progress.typesDone()
                    : elapsed;
            soonest = Math.min(soonest, (long) Math.ceil(remaining));
        }
        return Math.max(1, soonest);
    }

    /** Headers HAPI queued for its own response (X-Powered-By, X-Request-ID...), which manual ones lack. */
    private static void copyHapiHeaders(RequestDetails details, HttpServletResponse response) {
        details.getResponse().getHeaders().forEach((name, values) -> values.forEach(v -> response.addHeader(name, v)));
    }
}
