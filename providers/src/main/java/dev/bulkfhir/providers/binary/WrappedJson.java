package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.server.IRestfulResponse;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.util.DateUtils;
import dev.bulkfhir.storage.binary.BinaryDocument;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Date;
import java.util.zip.GZIPOutputStream;

/**
 * The wrapped read in its most common form (JSON, not pretty-printed, whole, unconditional) written
 * straight from the stored resource: its JSON with {@code data} added, which is what HAPI would
 * write after parsing that JSON into a {@code Binary} and encoding it again (HAPI's encoder puts
 * {@code data}, the last element of Binary, last). Parsing, encoding and base64 through HAPI's
 * model cost several times more than sending the content natively. Every other form of the read
 * goes through HAPI as before.
 */
final class WrappedJson {

    private static final Logger log = LoggerFactory.getLogger(WrappedJson.class);

    /** Whole base64 quanta (3 bytes in, 4 out), so that chunks join without padding between them. */
    private static final int CHUNK = 3 * 16 * 1024;

    private WrappedJson() {
    }

    /** Whether this read can be answered here: otherwise HAPI answers it (and refuses what is too big). */
    static boolean applies(RequestDetails request, BinaryDocument document, long maxContent) {
        return document.json() != null && document.content().size() <= maxContent
                && RestfulServerUtils.determineResponseEncodingWithDefault(request).getEncoding() == EncodingEnum.JSON
                && !RestfulServerUtils.prettyPrintResponse(request.getServer(), request)
                && !request.getParameters().containsKey(Constants.PARAM_SUMMARY)
                && !request.getParameters().containsKey(Constants.PARAM_ELEMENTS)
                && !request.getParameters().containsKey(Constants.PARAM_ELEMENTS + Constants.PARAM_ELEMENTS_EXCLUDE_MODIFIER)
                && request.getHeader(Constants.HEADER_IF_NONE_MATCH) == null
                && request.getHeader(Constants.HEADER_IF_MODIFIED_SINCE) == null;
    }

    static void send(RequestDetails request, BinaryDocument document, HttpServletResponse servletResponse)
            throws IOException {
        byte[] json = document.json();
        int end = json.length - 1;
        while (end > 0 && json[end] != '}') {
            end--;
        }
        // Through HAPI's response, which adds the headers it collected (X-Powered-By, X-Request-ID).
        IRestfulResponse response = request.getResponse();
        String version = Long.toString(document.version());
        response.addHeader(Constants.HEADER_ETAG, RestfulServerUtils.createEtag(version));
        response.addHeader(Constants.HEADER_CONTENT_LOCATION, request.getFhirServerBase() + "/Binary/" + document.id()
                + "/" + Constants.PARAM_HISTORY + "/" + version);
        if (document.lastUpdated() != null) {
            response.addHeader(Constants.HEADER_LAST_MODIFIED, DateUtils.formatDate(Date.from(document.lastUpdated())));
        }
        boolean gzip = request.isRespondGzip();
        if (gzip) {
            response.addHeader(Constants.HEADER_CONTENT_ENCODING, Constants.ENCODING_GZIP);
        }
        long size = document.content().size();
        Integer length = gzip ? null : Math.toIntExact(end + 1 + (size == 0 ? 0 : 10 + (size + 2) / 3 * 4));
        String contentType = RestfulServerUtils.determineResponseEncodingWithDefault(request).getResourceContentType();
        OutputStream stream = response.getResponseOutputStream(Constants.STATUS_HTTP_200_OK, contentType, length);
        servletResponse.setCharacterEncoding(Constants.CHARSET_NAME_UTF8); // HAPI's stream clears it
        try {
            OutputStream body = gzip ? new GZIPOutputStream(stream, CHUNK) : stream;
            body.write(json, 0, end);
            if (size > 0) {
                body.write(",\"data\":\"".getBytes(StandardCharsets.US_ASCII));
                ByteArrayOutputStream chunk = new ByteArrayOutputStream(CHUNK);
                Base64.Encoder base64 = Base64.getEncoder();
                for (long offset = 0; offset < size; offset += CHUNK) {
                    chunk.reset();
                    document.content().copyTo(chunk, offset, Math.min(CHUNK, size - offset));
                    body.write(base64.encode(chunk.toByteArray()));
                }
                body.write('"');
            }
            body.write('}');
            if (gzip) {
                ((GZIPOutputStream) body).finish();
            }
            response.commitResponse(stream);
        } catch (IOException e) {
            // Almost always the client going away; HAPI would log it as a failed hook.
            log.debug("Wrapped read of Binary/{} stopped: {}", document.id(), e.toString());
        }
    }
}
