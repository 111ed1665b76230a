package dev.bulkfhir.server;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.exceptions.PayloadTooLargeException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bulkfhir.providers.HookRefusals;
import dev.bulkfhir.providers.auth.SmartAuth;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import org.hl7.fhir.r4.model.OperationOutcome.IssueType;

import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Enumeration;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * What the standalone server checks before HAPI sees a request: bodies within the size limit,
 * query strings and forms that can be decoded (HAPI decodes both first thing and would answer a 500), and
 * response headers that HAPI's error handling would otherwise repeat.
 */
final class RequestGuard {

    private static final String FORM = "application/x-www-form-urlencoded";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FhirContext context;
    private final long maxRequestBody;
    private final boolean tokenEndpoint;

    /** @param tokenEndpoint whether the SMART token endpoint is served (its errors are OAuth JSON) */
    RequestGuard(FhirContext context, long maxRequestBody, boolean tokenEndpoint) {
        this.context = context;
        this.maxRequestBody = maxRequestBody;
        this.tokenEndpoint = tokenEndpoint;
    }

    /** The request HAPI should handle, or null if it has been answered here. */
    HttpServletRequest admit(HttpServletRequest request, HttpServletResponse response) throws IOException {
        if (isBinaryUpload(request)) {
            return request; // raw: streamed to the store; FHIR-format: bound by the wrapped-content cap
        }
        long declared = request.getContentLengthLong();
        if (declared > maxRequestBody) {
            refuse(request, response, 413, IssueType.TOOCOSTLY, tooLarge());
            return null;
        }
        String query = request.getQueryString();
        if (query != null && query.indexOf('%') >= 0 && !isDecodable(query)) {
            refuse(request, response, 400, IssueType.INVALID, "The query string has a malformed percent-escape:"
                    + " each % must be followed by two hexadecimal digits (write a literal % as %25).");
            return null;
        }
        String refusal = unreadableForm(request);
        if (refusal != null) {
            String reason = refusal.toLowerCase(Locale.ROOT);
            boolean tooBig = reason.contains("too large") || reason.contains("too many");
            refuse(request, response, tooBig ? 413 : 400, tooBig ? IssueType.TOOCOSTLY : IssueType.INVALID,
                    "The form body cannot be read (" + refusal + "). A form must be percent-encoded, of at most "
                            + StandaloneServer.MAX_FORM_BYTES + " bytes and " + StandaloneServer.MAX_FORM_FIELDS
                            + " fields.");
            return null;
        }
        String encoding = request.getHeader("Content-Encoding");
        boolean gzip = encoding != null && encoding.trim().equalsIgnoreCase("gzip");
        return declared >= 0 && !gzip ? request : new LimitedBody(request, gzip);
    }

    /** Date and Server once each, whatever HAPI's error handling adds back after resetting the response. */
    static HttpServletResponse singleServerHeaders(HttpServletResponse response) {
        return new HttpServletResponseWrapper(response) {
            @Override
            public void addHeader(String name, String value) {
                if (name.equalsIgnoreCase("Date") || name.equalsIgnoreCase("Server")) {
                    setHeader(name, value);
                } else {
                    super.addHeader(name, value);
                }
            }
        };
    }

    private String tooLarge() {
        return "The request body is larger than this server takes (" + maxRequestBody + " bytes, set with"
                + " --max-request-body). Send many resources as several requests (or load them with the load"
                + " command), and large documents as Binary content.";
    }

    /** Whether HAPI can decode the query string (it answers a 500 for a bad percent-escape). */
    private static boolean isDecodable(String query) {
        try {
            URLDecoder.decode(query, StandardCharsets.UTF_8);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Why Jetty cannot parse the form body, or null if this is no form or it parses. */
    private static String unreadableForm(HttpServletRequest request) {
        String contentType = request.getContentType();
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith(FORM)
                || !(request.getMethod().equals("POST") || request.getMethod().equals("PUT"))) {
            return null;
        }
        try {
            request.getParameterMap(); // parsed once; HAPI reads the same map
            return null;
        } catch (RuntimeException e) { // Jetty's BadMessageException, with the parser's reason as its cause
            Throwable reason = e;
            while (reason.getCause() != null) reason = reason.getCause();
            return reason.getMessage() == null ? reason.getClass().getSimpleName() : reason.getMessage();
        }
    }

    /** A Binary create or update: content the Binary endpoint bounds itself (a form is no Binary content). */
    private static boolean isBinaryUpload(HttpServletRequest request) {
        String path = request.getPathInfo();
        String method = request.getMethod();
        String contentType = request.getContentType();
        return path != null && (path.equals("/Binary") || path.startsWith("/Binary/"))
                && (method.equals("POST") || method.equals("PUT"))
                && (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith(FORM));
    }

    /**
     * Answers, and closes the connection: what is left of the body past what is dropped first may still
     * be on its way, and a client that reused the connection would read it as the next answer.
     */
    private void refuse(HttpServletRequest request, HttpServletResponse response, int status, IssueType type,
            String message) throws IOException {
        HookRefusals.discardBody(request);
        response.setStatus(status);
        response.setHeader("Connection", "close");
        byte[] body;
        if (tokenEndpoint && SmartAuth.TOKEN_PATH.equals(request.getPathInfo())) {
            // The token endpoint answers as RFC 6749 (section 5.2) says, even about a broken form.
            response.setContentType("application/json;charset=utf-8");
            response.setHeader("Cache-Control", "no-store");
            response.setStatus(400);
            body = JSON.writeValueAsBytes(Map.of("error", "invalid_request", "error_description", message));
        } else {
            response.setContentType("application/fhir+json;charset=utf-8");
            body = FhirErrorHandler.outcome(context, type, message);
        }
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
    }

    /**
     * A body without a declared length, or gzipped (then unzipped here, and the limit bounds what it
     * unzips to), cut off at the limit with a 413 that HAPI answers.
     */
    private final class LimitedBody extends HttpServletRequestWrapper {

        private final boolean gzip;
        private ServletInputStream stream;

        LimitedBody(HttpServletRequest request, boolean gzip) {
            super(request);
            this.gzip = gzip;
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (stream == null) {
                ServletInputStream body = super.getInputStream();
                stream = new Limited(body, gzip ? new GZIPInputStream(body) : body);
            }
            return stream;
        }

        /** Unzipped here: whoever reads the body must not unzip it again. */
        @Override
        public String getHeader(String name) {
            return gzip && name.equalsIgnoreCase("Content-Encoding") ? null : super.getHeader(name);
        }

        @Override
        public Enumeration<String> getHeaders(String name) {
            return gzip && name.equalsIgnoreCase("Content-Encoding") ? Collections.emptyEnumeration()
                    : super.getHeaders(name);
        }

        @Override
        public long getContentLengthLong() {
            return gzip ? -1 : super.getContentLengthLong();
        }

        @Override
        public int getContentLength() {
            return gzip ? -1 : super.getContentLength();
        }

        private final class Limited extends ServletInputStream {
            private final ServletInputStream servletBody;
            private final InputStream body;
            private long read;

            Limited(ServletInputStream servletBody, InputStream body) {
                this.servletBody = servletBody;
                this.body = body;
            }

            @Override
            public int read() throws IOException {
                int b = body.read();
                if (b >= 0) count(1);
                return b;
            }

            @Override
            public int read(byte[] buffer, int offset, int length) throws IOException {
                int n = body.read(buffer, offset, length);
                if (n > 0) count(n);
                return n;
            }

            private void count(int n) {
                read += n;
                if (read > maxRequestBody) {
                    throw new PayloadTooLargeException(tooLarge());
                }
            }

            @Override
            public boolean isFinished() {
                return servletBody.isFinished();
            }

            @Override
            public boolean isReady() {
                return servletBody.isReady();
            }

            @Override
            public void setReadListener(ReadListener listener) {
                servletBody.setReadListener(listener);
            }
        }
    }
}
