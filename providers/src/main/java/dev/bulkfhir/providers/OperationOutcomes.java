package dev.bulkfhir.providers;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.ForbiddenOperationException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import ca.uhn.fhir.util.OperationOutcomeUtil;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The one place OperationOutcomes are built (R4, as the whole plugin): the answers to requests that
 * went wrong, the HAPI exceptions that carry them, informational answers and the lines of an
 * export's error file. Severities and codes are FHIR's: {@code error}, {@code warning},
 * {@code information}; {@code not-found}, {@code forbidden}, {@code invalid}, {@code processing}...
 */
public final class OperationOutcomes {

    private static final FhirContext R4 = FhirContext.forR4Cached();

    private OperationOutcomes() {
    }

    /**
     * One issue of an OperationOutcome.
     *
     * @param location the parameter or header it is about (e.g. {@code _type}), or null
     */
    public record Issue(String severity, String code, String message, String location) {

        public Issue(String severity, String code, String message) {
            this(severity, code, message, null);
        }
    }

    /** An outcome of one issue. */
    public static IBaseOperationOutcome of(String severity, String code, String message) {
        return of(List.of(new Issue(severity, code, message)));
    }

    public static IBaseOperationOutcome of(List<Issue> issues) {
        IBaseOperationOutcome outcome = OperationOutcomeUtil.newInstance(R4);
        for (Issue issue : issues) {
            OperationOutcomeUtil.addIssue(R4, outcome, issue.severity(), issue.message(), issue.location(),
                    issue.code());
        }
        return outcome;
    }

    /** An outcome of one error. */
    public static IBaseOperationOutcome error(String code, String message) {
        return of("error", code, message);
    }

    /** An outcome of one issue as a line of an NDJSON file (an export's error file). */
    public static byte[] ndjsonLine(String severity, String code, String message) {
        return R4.newJsonParser().encodeResourceToString(of(severity, code, message)).getBytes(StandardCharsets.UTF_8);
    }

    /** {@code error}, made elsewhere for its status and headers, with an outcome saying its message. */
    public static <E extends BaseServerResponseException> E withOutcome(E error, String code) {
        error.setOperationOutcome(error(code, error.getMessage()));
        return error;
    }

    /** 404. */
    public static ResourceNotFoundException notFound(String message) {
        return new ResourceNotFoundException(message, error("not-found", message));
    }

    /** 403. */
    public static ForbiddenOperationException forbidden(String message) {
        return new ForbiddenOperationException(message, error("forbidden", message));
    }

    /** 410. */
    public static ResourceGoneException gone(String code, String message) {
        return new ResourceGoneException(message, error(code, message));
    }

    /** Any other status, e.g. 406, 416, 429. */
    public static BaseServerResponseException status(int status, String code, String message) {
        return new UnclassifiedServerFailureException(status, message, error(code, message));
    }

    /**
     * 410 Gone for content the server recorded but lost from its storage (a file deleted or the disk
     * replaced): it will not come back, so a retry cannot help; the outcome says the fault is the
     * server's, not the request's. For a Binary read and for an export's manifest alike.
     */
    public static ResourceGoneException missingContent(List<String> ids) {
        return gone("exception", "The content of " + ids.stream().map(id -> "Binary/" + id)
                .collect(Collectors.joining(", ")) + " is missing from this server's storage: its file was deleted or"
                + " lost on the server's disk. This is no fault of the request, and the content cannot be served"
                + " again. For an export file, start a new export.");
    }
}
