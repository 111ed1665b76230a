package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.interceptor.api.HookParams;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.ForbiddenOperationException;
import ca.uhn.fhir.rest.server.interceptor.ExceptionHandlingInterceptor;
import ca.uhn.fhir.rest.server.servlet.ServletRequestDetails;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.OperationOutcome.IssueType;

import java.io.IOException;

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

    /**
     * Answers a refusal from a hook the way HAPI answers one thrown by a provider method (exception
     * hooks, then the OperationOutcome). Thrown from a hook instead, HAPI would log it as an ERROR
     * with a stack trace.
     */
    static void answer(BaseServerResponseException error, RequestDetails request, HttpServletRequest servletRequest,
            HttpServletResponse servletResponse) throws IOException {
        if (request instanceof ServletRequestDetails servletDetails) {
            HookParams params = new HookParams()
                    .add(RequestDetails.class, request)
                    .add(ServletRequestDetails.class, servletDetails)
                    .add(HttpServletRequest.class, servletRequest)
                    .add(HttpServletResponse.class, servletResponse)
                    .add(BaseServerResponseException.class, error);
            if (!request.getInterceptorBroadcaster().callHooks(Pointcut.SERVER_HANDLE_EXCEPTION, params)) {
                return;
            }
        }
        request.removeParameter(Constants.PARAM_SUMMARY);
        request.removeParameter(Constants.PARAM_ELEMENTS);
        request.removeParameter(Constants.PARAM_ELEMENTS + Constants.PARAM_ELEMENTS_EXCLUDE_MODIFIER);
        try {
            new ExceptionHandlingInterceptor().handleException(request, error, servletRequest, servletResponse);
        } catch (ServletException e) {
            throw new IOException(e);
        }
    }

    /** A header's quoted-string may not hold quotes, backslashes or control characters. */
    private static String quotable(String text) {
        return text.replaceAll("[\"\\\\\\p{Cntrl}]", "'");
    }
}
