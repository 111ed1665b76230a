package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import ca.uhn.fhir.util.OperationOutcomeUtil;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;

import java.util.List;
import java.util.stream.Collectors;

/** The client errors of the Binary endpoint, each with an OperationOutcome that names the problem. */
public final class BinaryErrors {

    static final String NOT_FOUND = "Could not locate this Binary.";

    private BinaryErrors() {
    }

    /** The version asked for (current when {@code version} is null): 404 if unknown, 410 if deleted. */
    static BinaryDocument lookup(FhirContext context, BinarySource source, String id, String version) {
        Long number = null;
        if (version != null) {
            try {
                number = Long.parseLong(version);
            } catch (NumberFormatException e) {
                throw notFound(context);
            }
        }
        BinaryDocument document = source.find(id, number).orElseThrow(() -> notFound(context));
        if (document.deleted()) {
            throw new ResourceGoneException("Binary/" + id + " was deleted (version " + document.version() + ").",
                    outcome(context, "deleted", "Binary/" + id + " was deleted (version " + document.version() + ")."));
        }
        if (document.content() != null && !document.content().isAvailable()) {
            throw missingContent(context, List.of(id));
        }
        return document;
    }

    /**
     * 410 Gone for content the server recorded but lost from its storage (a file deleted or the disk
     * replaced): it will not come back, so a retry cannot help; the outcome says the fault is the
     * server's, not the request's.
     */
    public static ResourceGoneException missingContent(FhirContext context, List<String> ids) {
        String message = "The content of " + ids.stream().map(id -> "Binary/" + id).collect(Collectors.joining(", "))
                + " is missing from this server's storage: its file was deleted or lost on the server's disk. This"
                + " is no fault of the request, and the content cannot be served again. For an export file, start a"
                + " new export.";
        return new ResourceGoneException(message, outcome(context, "exception", message));
    }

    static ResourceNotFoundException notFound(FhirContext context) {
        return new ResourceNotFoundException(NOT_FOUND, outcome(context, "not-found", NOT_FOUND));
    }

    static BaseServerResponseException status(FhirContext context, int status, String issueType, String message) {
        return new UnclassifiedServerFailureException(status, message, outcome(context, issueType, message));
    }

    static IBaseOperationOutcome outcome(FhirContext context, String issueType, String message) {
        IBaseOperationOutcome outcome = OperationOutcomeUtil.newInstance(context);
        OperationOutcomeUtil.addIssue(context, outcome, "error", message, null, issueType);
        return outcome;
    }
}
