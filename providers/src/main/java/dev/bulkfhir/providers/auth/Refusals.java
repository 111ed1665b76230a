package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import ca.uhn.fhir.rest.server.exceptions.ForbiddenOperationException;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.OperationOutcome.IssueType;


/** The 401 and 403 answers, as HAPI exceptions carrying an OperationOutcome that says why. */
final class Refusals {

    static final String WWW_AUTHENTICATE = "WWW-Authenticate";

    private Refusals() {
    }

    /**
     * 401. RFC 6750: without credentials the challenge is a bare {@code Bearer}; with a token that
     * failed, it adds {@code error="invalid_token"} and the reason.
     */
    static AuthenticationException unauthorized(String why, boolean tokenGiven) {
        AuthenticationException error = new AuthenticationException(why);
        error.setOperationOutcome(outcome(IssueType.LOGIN, why));
        String challenge = "Bearer realm=\"bulk-fhir\"";
        if (tokenGiven) {
            challenge += ", error=\"invalid_token\", error_description=\"" + quotable(why) + "\"";
        }
        error.addResponseHeader(WWW_AUTHENTICATE, challenge);
        return error;
    }

    static ForbiddenOperationException forbidden(String why) {
        return new ForbiddenOperationException(why, outcome(IssueType.FORBIDDEN, why));
    }

    static OperationOutcome outcome(IssueType type, String why) {
        OperationOutcome outcome = new OperationOutcome();
        outcome.addIssue().setSeverity(OperationOutcome.IssueSeverity.ERROR).setCode(type).setDiagnostics(why);
        return outcome;
    }

    /** A header's quoted-string may not hold quotes, backslashes or control characters. */
    private static String quotable(String text) {
        return text.replaceAll("[\"\\\\\\p{Cntrl}]", "'");
    }
}
