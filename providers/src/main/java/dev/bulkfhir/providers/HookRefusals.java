package dev.bulkfhir.providers;

import ca.uhn.fhir.interceptor.api.HookParams;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.interceptor.ExceptionHandlingInterceptor;
import ca.uhn.fhir.rest.server.servlet.ServletRequestDetails;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;

/** Client errors answered from an interceptor hook rather than thrown from a provider method. */
public final class HookRefusals {

    /** How much of a refused body is read and dropped so that the client can read the refusal. */
    private static final long MAX_DISCARD = 64L * 1024 * 1024;

    private HookRefusals() {
    }

    /**
     * Answers {@code error} the way HAPI answers one thrown by a provider method (exception hooks,
     * then an OperationOutcome). Thrown from a hook instead, HAPI would log every 401 or 404 as an
     * ERROR with a stack trace. What is left of the request body is read first (up to 64 MiB): a
     * server that answers and closes while the client is still sending makes the client's TCP stack
     * discard the answer, and a reused connection would fail the client's next request.
     */
    public static void answer(BaseServerResponseException error, RequestDetails request,
            HttpServletRequest servletRequest, HttpServletResponse servletResponse) throws IOException {
        discardBody(servletRequest);
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
        RequestSideChannels.dropParameters(request, Constants.PARAM_SUMMARY, Constants.PARAM_ELEMENTS,
                Constants.PARAM_ELEMENTS + Constants.PARAM_ELEMENTS_EXCLUDE_MODIFIER);
        try {
            new ExceptionHandlingInterceptor().handleException(request, error, servletRequest, servletResponse);
        } catch (ServletException e) {
            throw new IOException(e);
        }
    }

    /**
     * Reads and drops what is left of the request body (up to 64 MiB), so that the client, still
     * sending, reads the answer instead of a reset connection. A client that sent
     * {@code Expect: 100-continue} has sent nothing yet and gets the answer at once.
     */
    public static void discardBody(HttpServletRequest servletRequest) {
        String expect = servletRequest.getHeader("Expect");
        if ((expect != null && expect.toLowerCase(Locale.ROOT).contains("100-continue"))
                || servletRequest.getContentLengthLong() > MAX_DISCARD) {
            return;
        }
        try {
            InputStream body = servletRequest.getInputStream();
            byte[] buffer = new byte[64 * 1024];
            long discarded = 0;
            for (int read; discarded < MAX_DISCARD && (read = body.read(buffer)) >= 0; ) {
                discarded += read;
            }
        } catch (IOException | IllegalStateException e) {
            // The client went away, or the body was already taken as a reader: nothing to drop.
        }
    }
}
