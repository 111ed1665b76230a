package dev.bulkfhir.providers.export;

import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;

import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.util.DateUtils;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.bulkfhir.providers.ServerBase;
import dev.bulkfhir.storage.export.ExportFile;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.ExportState;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.Date;
import java.util.List;
import java.util.Set;

/**
 * The status URL of an export, {@code [base]/$export-poll-status?_jobId=[id]} (as the kickoff's
 * {@code Content-Location} gives it): GET answers 202 with progress while the job runs, 200 with the
 * manifest once it is complete (in pages with allowPartialManifests), or the job's error; DELETE cancels
 * it. Only the job's owner gets an answer; anyone else 404. Responses are written here (manual
 * responses): export needs 202, 429 and a plain-JSON manifest.
 */
public final class PollStatusOperation {

    static final String STATUS_OPERATION = "$export-poll-status";
    private static final JsonFactory JSON = new JsonFactory();

    private final ExportContext context;
    private final ExportEngine engine;
    private final ClientIdentity identity;
    private final ServerBase base;
    private final PollThrottle pollThrottle = new PollThrottle();

    PollStatusOperation(ExportEngine engine, ClientIdentity identity, ServerBase base) {
        this.context = engine.context();
        this.engine = engine;
        this.identity = identity;
        this.base = base;
    }

    /** The status URL of a job, on {@code base}. */
    static String statusUrl(String base, String jobId) {
        return base + "/" + STATUS_OPERATION + "?_jobId=" + jobId;
    }

    /** GET: 202 with progress, 200 with the manifest, or the job's error; DELETE: cancel. */
    @Operation(name = STATUS_OPERATION, idempotent = true, deleteEnabled = true, manualResponse = true)
    public void status(RequestDetails details, HttpServletRequest request, HttpServletResponse response)
            throws IOException {
        String[] ids = details.getParameters().get("_jobId");
        if (ids == null || ids.length != 1 || ids[0].isBlank()) {
            throw new InvalidRequestException("The status URL needs one _jobId parameter, as given in the kickoff's"
                    + " Content-Location.", OperationOutcomes.of("error", "required",
                    "The status URL needs one _jobId parameter, as given in the kickoff's Content-Location."));
        }
        ExportClient client = identity.of(details);
        String jobId = ids[0].trim();
        if (details.getRequestType() == RequestTypeEnum.DELETE) {
            cancel(jobId, client, details);
            return;
        }
        ExportJob job = ExportFileStore.isJobId(jobId) ? context.jobs().findOwned(jobId, client.id()).orElse(null) : null;
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
            case FAILED -> throw OperationOutcomes.status(500, "exception", "The export failed: "
                    + job.errorText() + " Start a new export.");
            default -> throw OperationOutcomes.status(410, "expired", "This export expired at "
                    + job.expiresAt() + "; its files are deleted. Start a new export.");
        }
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
        throw OperationOutcomes.status(400, "invalid", "_page takes one page number (1 or more), as given in"
                + " a manifest's next link.");
    }

    private BaseServerResponseException unknownPage(int page) {
        return OperationOutcomes.notFound("This export's manifest has no page " + page + " (yet): follow the"
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
        List<ExportFile> all = context.jobs().files(job.id()).stream()
                .sorted(Comparator.comparingLong(ExportFile::ordinal)).toList();
        List<Long> ends = context.jobs().pageEnds(job.id());
        int size = context.settings().manifestPageSize();
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
                to = upTo(all, context.jobs().fixPage(job.id(), number, all.get(to - 1).ordinal()));
            }
        }
        Page page = new Page(all.subList(from, to), all.size() > to);
        if (running && page.files().isEmpty()) {
            inProgress(job, details, response, null);
            return;
        }
        checkOnDisk(page.files());
        if (!running) pollThrottle.forget(job.id());
        String next = page.more() ? statusUrl(base.of(details), job.id()) + "&_page=" + (number + 1) : null;
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
        ExportJobRepository.Progress progress = engine.progress(job);
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
            BaseServerResponseException error = OperationOutcomes.status(429, "throttled", "This export's status"
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
        List<ExportFile> files = context.jobs().files(job.id());
        checkOnDisk(files);
        ExportRequest request = ExportRequest.fromJson(job.parameters());
        if (request.organizeOutputBy() != null) {
            // In the order written, so that a file's continuation follows it.
            files = files.stream().sorted(Comparator.comparing(ExportFile::errorFile)
                    .thenComparingLong(ExportFile::ordinal)).toList();
        }
        writeManifest(job, details, response, manifestBody(job, client, request, files, this.base.of(details), null));
    }

    /** Promise no file that is gone from disk: the whole export is then no longer to be had. */
    private void checkOnDisk(List<ExportFile> files) {
        List<String> missing = files.stream()
                .filter(file -> !context.files().content(file.location(), file.byteCount()).isAvailable())
                .map(ExportFile::id).toList();
        if (!missing.isEmpty()) {
            throw OperationOutcomes.missingContent(missing);
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
                ? context.jobs().cancel(jobId, client.id(), Instant.now()).orElse(null) : null;
        if (before == null) {
            throw unknownJob();
        }
        pollThrottle.forget(jobId);
        context.audit().record(AuditRecord.now(AuditAction.EXPORT_CANCELLED, 202, client.id(), jobId,
                "was " + before.state(), before.resourcesDone(), 0));
        engine.cancelled(before);
        IBaseOperationOutcome outcome = OperationOutcomes.of("information", "informational",
                "Export " + jobId + " was cancelled" + (before.state() == ExportState.COMPLETED
                        ? "; its files are deleted." : " and stops; its files are deleted."));
        RestfulServerUtils.streamResponseAsResource(details.getServer(), outcome, Set.of(), 202, false,
                details.isRespondGzip(), details);
    }

    private BaseServerResponseException unknownJob() {
        return OperationOutcomes.notFound("No such export: it was never started, was cancelled, or belongs to"
                + " another client.");
    }

    /** Headers HAPI queued for its own response (X-Powered-By, X-Request-ID...), which manual ones lack. */
    private static void copyHapiHeaders(RequestDetails details, HttpServletResponse response) {
        details.getResponse().getHeaders().forEach((name, values) -> values.forEach(v -> response.addHeader(name, v)));
    }
}
