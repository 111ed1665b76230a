package dev.bulkfhir.server;

import ca.uhn.fhir.context.FhirContext;
import dev.bulkfhir.providers.OperationOutcomes;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.hl7.fhir.r4.model.OperationOutcome;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Errors Jetty answers itself, before a request reaches HAPI (a malformed or ambiguous URI, a path
 * outside the FHIR base), as an OperationOutcome instead of an HTML page.
 */
final class FhirErrorHandler extends ErrorHandler {

    private final FhirContext context;
    private final String basePath;

    FhirErrorHandler(FhirContext context, String basePath) {
        this.context = context;
        this.basePath = basePath;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
            Callback callback) {
        String reason = message == null || message.isBlank() ? HttpStatus.getMessage(code) : message;
        String diagnostics = code == HttpStatus.NOT_FOUND_404
                ? "Nothing here: the FHIR base of this server is " + basePath + "."
                : code >= 500 ? "The server failed to answer: " + reason + "."
                : "The request cannot be read: " + reason + ". Check that the URL is well-formed and percent-encoded.";
        byte[] body = outcome(context, code == HttpStatus.NOT_FOUND_404 ? OperationOutcome.IssueType.NOTFOUND
                : code == HttpStatus.PAYLOAD_TOO_LARGE_413 ? OperationOutcome.IssueType.TOOCOSTLY
                : code < 500 ? OperationOutcome.IssueType.INVALID : OperationOutcome.IssueType.EXCEPTION, diagnostics);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/fhir+json;charset=utf-8");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /** An OperationOutcome with one error issue, as JSON. */
    static byte[] outcome(FhirContext context, OperationOutcome.IssueType type, String diagnostics) {
        return context.newJsonParser().encodeResourceToString(OperationOutcomes.error(type.toCode(), diagnostics))
                .getBytes(StandardCharsets.UTF_8);
    }
}
