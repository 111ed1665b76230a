package dev.bulkfhir.providers;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.IRestfulResponse;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.api.server.ResponseDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.GZIPOutputStream;

/**
 * Answers {@code GET [base]/metadata} with bytes encoded once per CapabilityStatement, format and
 * pretty-printing, instead of encoding the whole statement (some 80 KB of JSON) on every request.
 *
 * <p>HAPI already keeps the statement object it generated (and the changes of the
 * {@code SERVER_CAPABILITY_STATEMENT_GENERATED} hooks) for a minute and then builds a new one; the
 * bytes are remembered for that object, so a new statement is encoded anew on its first request.
 * What this answers is what HAPI would: the same body, {@code Content-Type},
 * {@code Content-Location}, and gzip when the client accepts it. Requests it does not handle
 * ({@code _summary}, {@code _elements}, a format other than JSON or XML, a hook that took the
 * response before) go to HAPI as before. A host whose own hooks change the statement in place per
 * request must not register this.
 */
public final class EncodedCapabilityStatement {

    private static final Logger log = LoggerFactory.getLogger(EncodedCapabilityStatement.class);

    /** After other outgoing-response hooks: one that answers first (e.g. an HTML view) wins. */
    public static final int ORDER = 10_000;

    /** What the bytes depend on besides the statement (the base: HAPI's parser writes references relative to it). */
    private record Format(String contentType, boolean pretty, boolean gzip, String base) {
    }

    /** The statement the bytes were encoded from, and its bytes per format. */
    private record Encoded(IBaseResource statement, Map<Format, byte[]> bytes) {
    }

    private volatile Encoded encoded = new Encoded(null, Map.of());

    @Hook(value = Pointcut.SERVER_OUTGOING_RESPONSE, order = ORDER)
    public boolean answer(RequestDetails request, ResponseDetails response, HttpServletResponse servletResponse)
            throws IOException {
        IBaseResource statement = response.getResponseResource();
        if (request.getRestOperationType() != RestOperationTypeEnum.METADATA
                || request.getRequestType() != RequestTypeEnum.GET || statement == null
                || response.getResponseCode() != Constants.STATUS_HTTP_200_OK || asksForAPart(request)) {
            return true;
        }
        RestfulServerUtils.ResponseEncoding encoding = RestfulServerUtils.determineResponseEncodingWithDefault(request);
        if (encoding.getEncoding() != EncodingEnum.JSON && encoding.getEncoding() != EncodingEnum.XML) {
            return true;
        }
        Format format = new Format(encoding.getResourceContentType(),
                RestfulServerUtils.prettyPrintResponse(request.getServer(), request), request.isRespondGzip(),
                request.getFhirServerBase());
        Encoded known = encoded;
        if (known.statement() != statement) {
            known = new Encoded(statement, new ConcurrentHashMap<>());
            encoded = known;
        }
        byte[] body = known.bytes().computeIfAbsent(format, wanted -> encode(request, statement, wanted.gzip()));

        // Through HAPI's response, which adds the headers it collected (X-Powered-By, X-Request-ID).
        IRestfulResponse out = request.getResponse();
        if (statement.getIdElement().hasIdPart()) {
            out.addHeader(Constants.HEADER_CONTENT_LOCATION, request.getFhirServerBase() + "/"
                    + request.getFhirContext().getResourceType(statement) + "/" + statement.getIdElement().getIdPart());
        }
        if (format.gzip()) {
            out.addHeader(Constants.HEADER_CONTENT_ENCODING, Constants.ENCODING_GZIP);
        }
        OutputStream stream = out.getResponseOutputStream(Constants.STATUS_HTTP_200_OK, format.contentType(), body.length);
        servletResponse.setCharacterEncoding(Constants.CHARSET_NAME_UTF8); // HAPI's stream clears it
        try {
            stream.write(body);
            out.commitResponse(stream);
        } catch (IOException e) {
            // Almost always the client going away; HAPI would log it as a failed hook.
            log.debug("CapabilityStatement not sent: {}", e.toString());
        }
        return false;
    }

    private static boolean asksForAPart(RequestDetails request) {
        Map<String, String[]> parameters = request.getParameters();
        return parameters.containsKey(Constants.PARAM_SUMMARY) || parameters.containsKey(Constants.PARAM_ELEMENTS)
                || parameters.containsKey(Constants.PARAM_ELEMENTS + Constants.PARAM_ELEMENTS_EXCLUDE_MODIFIER);
    }

    /** Encoded by the parser HAPI would use for this request (format, pretty-printing, base URL). */
    private static byte[] encode(RequestDetails request, IBaseResource statement, boolean gzip) {
        IParser parser = RestfulServerUtils.getNewParser(request.getFhirContext(),
                request.getFhirContext().getVersion().getVersion(), request);
        byte[] text = parser.encodeResourceToString(statement).getBytes(StandardCharsets.UTF_8);
        if (!gzip) {
            return text;
        }
        ByteArrayOutputStream zipped = new ByteArrayOutputStream(text.length / 4);
        try (GZIPOutputStream out = new GZIPOutputStream(zipped)) {
            out.write(text);
        } catch (IOException e) {
            throw new IllegalStateException("gzip into memory cannot fail", e);
        }
        return zipped.toByteArray();
    }
}
