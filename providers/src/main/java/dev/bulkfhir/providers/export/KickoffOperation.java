package dev.bulkfhir.providers.export;

import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;

import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import dev.bulkfhir.providers.export.ExportRequest.Level;
import dev.bulkfhir.providers.RequestSideChannels;
import dev.bulkfhir.providers.ServerBase;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Patient;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.ArrayList;

/**
 * The Bulk Data kickoff at system, Patient and Group level (GET, or POST with a Parameters body): checks
 * the request, stores the job within the job limits and answers 202 with the status URL in
 * {@code Content-Location} ({@link PollStatusOperation} answers there). The answer is written here (a
 * manual response), because HAPI's operation answers are always 200.
 */
public final class KickoffOperation {

    static final String EXPORT_DEFINITION = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
    static final String PATIENT_EXPORT_DEFINITION = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
    static final String GROUP_EXPORT_DEFINITION = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";
    /** The longest wait a client over a limit is told, however slow the running exports look. */
    private static final long MAX_LIMIT_RETRY_AFTER = 120;

    private final ExportEngine engine;
    private final ExportContext context;
    private final KickoffParser parser;
    private final ClientIdentity identity;
    private final ServerBase base;

    KickoffOperation(ExportEngine engine, ClientIdentity identity, ServerBase base) {
        this.engine = engine;
        this.context = engine.context();
        this.parser = new KickoffParser(context.fhir(), context.types(), context.source());
        this.identity = identity;
        this.base = base;
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

    private void kickoff(Level level, String groupId, RequestDetails details, HttpServletRequest request)
            throws IOException {
        // Before any write still open, so that the next _since export finds what those commit.
        Instant transactionTime = context.source().transactionTime();
        Map<String, String[]> query = details.getParameters();
        // HAPI would apply the export's _elements to the kickoff's own OperationOutcome.
        RequestSideChannels.dropParameters(details, Constants.PARAM_ELEMENTS);

        ExportClient client = identity.of(details);
        KickoffParser.Parsed parsed = parser.parse(details, query, level, groupId, client, transactionTime);

        String jobId = ExportFileStore.newJobId();
        ExportJob job = new ExportJob(jobId, client.id(), requestUrl(details, request), parsed.request().toJson(),
                transactionTime);
        try {
            // Counted and inserted under a row lock in the database: the limits hold across nodes.
            ExportSettings settings = context.settings();
            ExportJobRepository.ActiveJobs active = context.jobs().admit(job, settings.maxJobsPerClient(),
                    settings.maxJobs());
            long mine = active.owner();
            if (mine >= settings.maxJobsPerClient()) {
                throw tooMany(client.id(), "This client already has " + mine + " exports waiting or running, the most allowed"
                        + " at once (" + settings.maxJobsPerClient() + "). Retry after one finishes, or"
                        + " cancel one with DELETE on its status URL.");
            }
            if (active.all() >= settings.maxJobs()) {
                throw tooMany(null, "The server is running as many exports as it allows at once ("
                        + settings.maxJobs() + "). Retry later.");
            }
        } catch (RuntimeException e) {
            if (!connectionTimeout(e)) throw e;
            // No database connection in time: the server is saturated, a reason to come back later, not a 5xx.
            throw tooMany(1, "The server is too busy to accept an export now. Retry later.");
        }
        context.audit().record(AuditRecord.now(AuditAction.EXPORT_KICKOFF, 202, client.id(), jobId,
                parsed.request().describe(), 0, 0));
        String statusUrl = PollStatusOperation.statusUrl(base.of(details), jobId);
        List<OperationOutcomes.Issue> issues = new ArrayList<>();
        issues.add(new OperationOutcomes.Issue("information", "informational", "Export accepted, as of "
                + transactionTime + ". Poll " + statusUrl + " for its status."));
        for (String warning : parsed.warnings()) {
            issues.add(new OperationOutcomes.Issue("warning", "not-supported", warning));
        }
        IBaseOperationOutcome outcome = OperationOutcomes.of(issues);
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

    private static boolean connectionTimeout(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof java.sql.SQLTransientConnectionException) return true;
        }
        return false;
    }

    /** Over a job limit: of the client {@code ownerId}, or of the whole server if it is null. */
    private BaseServerResponseException tooMany(String ownerId, String message) {
        List<ExportJob> active = context.jobs().active(ownerId, context.settings().maxJobs());
        return tooMany(expectedWait(active, Instant.now()), message);
    }

    private BaseServerResponseException tooMany(long retryAfterSeconds, String message) {
        BaseServerResponseException error = OperationOutcomes.status(429, "throttled", message);
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
            ExportJobRepository.Progress progress = engine.progress(job);
            Instant since = job.startedAt() != null ? job.startedAt() : job.createdAt();
            double elapsed = Math.max(0, Duration.between(since, now).toMillis()) / 1000.0;
            double remaining = progress.typesDone() > 0 && progress.typesTotal() > progress.typesDone()
                    ? elapsed * (progress.typesTotal() - progress.typesDone()) / progress.typesDone()
                    : elapsed;
            soonest = Math.min(soonest, (long) Math.ceil(remaining));
        }
        return Math.max(1, soonest);
    }
}
