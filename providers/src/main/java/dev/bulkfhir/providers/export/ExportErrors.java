package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import ca.uhn.fhir.util.OperationOutcomeUtil;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;

import java.util.List;

/** The answers export gives when something is wrong, each with an OperationOutcome saying what. */
final class ExportErrors {

    private ExportErrors() {
    }

    /** One OperationOutcome with an issue per problem found in a kickoff: 400. */
    static InvalidRequestException invalid(FhirContext context, List<Problem> problems) {
        IBaseOperationOutcome outcome = OperationOutcomeUtil.newInstance(context);
        for (Problem problem : problems) {
            OperationOutcomeUtil.addIssue(context, outcome, "error", problem.message(), problem.location(),
                    problem.code());
        }
        String summary = problems.size() == 1 ? problems.get(0).message()
                : problems.size() + " problems with this export request: " + problems.get(0).message() + " ...";
        return new InvalidRequestException(summary, outcome);
    }

    static ResourceNotFoundException notFound(FhirContext context, String message) {
        return new ResourceNotFoundException(message, outcome(context, "error", "not-found", message));
    }

    static BaseServerResponseException status(FhirContext context, int status, String code, String message) {
        return new UnclassifiedServerFailureException(status, message, outcome(context, "error", code, message));
    }

    static IBaseOperationOutcome outcome(FhirContext context, String severity, String code, String message) {
        IBaseOperationOutcome outcome = OperationOutcomeUtil.newInstance(context);
        OperationOutcomeUtil.addIssue(context, outcome, severity, message, null, code);
        return outcome;
    }

    /**
     * One thing wrong with a request.
     *
     * @param location the parameter or header it is about, e.g. {@code _type}
     * @param code     an IssueType code: {@code invalid}, {@code not-supported}, {@code not-found}...
     */
    record Problem(String location, String code, String message) {}
}
