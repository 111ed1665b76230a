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

/** The client errors of the Binary endpoint, each with an OperationOutcome that names the problem. */
final class BinaryErrors {

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
        return document;
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
