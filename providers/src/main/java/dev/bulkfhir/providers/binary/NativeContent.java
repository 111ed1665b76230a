package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.util.DateUtils;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.storage.binary.BinaryContent;
import dev.bulkfhir.storage.binary.BinaryDocument;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.util.Date;
import java.util.Optional;

/**
 * Writes a Binary's content as the response body: its own Content-Type, validators (ETag is the
 * version, Last-Modified the lastUpdated), conditional requests (304), HEAD, and single byte
 * ranges (206 / 416), so that a broken download resumes. Streams in constant memory.
 */
final class NativeContent {

    private static final Logger log = LoggerFactory.getLogger(NativeContent.class);

    enum Disposition {
        /** Reads: passive types inline, active ones downloaded. */
        INLINE_IF_PASSIVE,
        /** The download operations: always a file. */
        ATTACHMENT
    }

    private NativeContent() {
    }

    static void send(RequestDetails details, BinaryDocument document, Disposition disposition,
            HttpServletRequest request, HttpServletResponse response) throws IOException {
        String contentType = document.contentType() != null ? document.contentType() : Constants.CT_OCTET_STREAM;
        long size = document.content().size();
        String etag = RestfulServerUtils.createEtag(Long.toString(document.version()));
        // HTTP dates have second precision; lastUpdated has milliseconds.
        long lastModified = document.lastUpdated().toEpochMilli() / 1000 * 1000;
        String lastModifiedText = DateUtils.formatDate(new Date(lastModified));

        boolean notModified = notModified(request, etag, lastModified);
        ByteRange range = null;
        if (!notModified && rangeStillValid(request, etag, lastModifiedText)) {
            try {
                range = ByteRange.parse(request.getHeader("Range"), size);
            } catch (ByteRange.Unsatisfiable e) {
                BaseServerResponseException error = OperationOutcomes.status(416, "invalid", "The range "
                        + request.getHeader("Range") + " lies outside the content, which has "
                        + size + " bytes.");
                error.addResponseHeader("Content-Range", "bytes */" + size);
                throw error;
            }
        }

        // Headers HAPI has queued for its own response (X-Powered-By, X-Request-ID...).
        details.getResponse().getHeaders().forEach((name, values) -> values.forEach(v -> response.addHeader(name, v)));
        response.setHeader(Constants.HEADER_ETAG, etag);
        response.setHeader(Constants.HEADER_LAST_MODIFIED, lastModifiedText);
        response.setHeader("Accept-Ranges", "bytes");
        response.setHeader("X-Content-Type-Options", "nosniff");
        if (document.securityContext() != null) {
            response.setHeader(Constants.HEADER_X_SECURITY_CONTEXT, document.securityContext());
        }
        if (notModified) {
            response.setStatus(HttpServletResponse.SC_NOT_MODIFIED);
            return;
        }

        boolean passive = DownloadHeaders.isPassive(contentType);
        if (!passive) {
            // Active content (HTML, SVG, script...) must never run with this server's origin.
            response.setHeader("Content-Security-Policy", "sandbox");
        }
        String contentDisposition = null;
        if (disposition == Disposition.ATTACHMENT || !passive) {
            contentDisposition = DownloadHeaders.disposition(true,
                    DownloadHeaders.filename(document.filename(), document.id(), contentType));
        } else if (document.filename() != null) {
            contentDisposition = DownloadHeaders.disposition(false,
                    DownloadHeaders.filename(document.filename(), document.id(), contentType));
        }
        // An object store that hands downloads off: the client fetches the bytes there, with these headers.
        Optional<URI> elsewhere = document.content().downloadUrl(contentType, contentDisposition);
        if (elsewhere.isPresent()) {
            response.setStatus(307);
            response.setHeader("Location", elsewhere.get().toString());
            response.setHeader(Constants.HEADER_CACHE_CONTROL, "no-store"); // the URL is a short-lived credential
            response.setContentLength(0);
            return;
        }
        if (contentDisposition != null) {
            response.setHeader(Constants.HEADER_CONTENT_DISPOSITION, contentDisposition);
        }
        response.setContentType(contentType);

        long offset = 0;
        long length = size;
        if (range != null) {
            offset = range.first();
            length = range.length();
            response.setStatus(HttpServletResponse.SC_PARTIAL_CONTENT);
            response.setHeader("Content-Range", "bytes " + range.first() + "-" + range.last() + "/" + size);
        } else {
            response.setStatus(HttpServletResponse.SC_OK);
        }
        // NDJSON (export files) shrinks about tenfold: gzip it when asked, for whole-content answers only.
        boolean gzip = range == null && length > 0 && ndjsonGzip(contentType, request, response);
        if (!gzip) {
            response.setContentLengthLong(length);
        }
        if ("HEAD".equalsIgnoreCase(request.getMethod()) || length == 0) {
            return;
        }
        try {
            if (gzip) {
                try (java.util.zip.GZIPOutputStream zip = new java.util.zip.GZIPOutputStream(response.getOutputStream(), 64 * 1024)) {
                    document.content().copyTo(zip, offset, length);
                }
                return;
            }
            // No flush: the container completes the response once Content-Length bytes are written.
            OutputStream out = response.getOutputStream();
            BinaryContent.BufferSink sink = BufferWriting.sinkFor(out);
            if (sink != null) {
                document.content().copyTo(sink, offset, length);
            } else {
                document.content().copyTo(out, offset, length);
            }
        } catch (IOException e) {
            // Almost always the client going away mid-download; it can resume with a Range request.
            log.debug("Download of Binary/{} stopped: {}", document.id(), e.toString());
        }
    }

    /** For NDJSON content: Vary, and whether Accept-Encoding admits gzip (then Content-Encoding is set). */
    private static boolean ndjsonGzip(String contentType, HttpServletRequest request, HttpServletResponse response) {
        if (ca.uhn.fhir.rest.api.EncodingEnum.forContentType(ReadRule.mediaType(contentType))
                != ca.uhn.fhir.rest.api.EncodingEnum.NDJSON) {
            return false;
        }
        response.addHeader("Vary", "Accept-Encoding");
        for (java.util.Enumeration<String> headers = request.getHeaders("Accept-Encoding"); headers.hasMoreElements(); ) {
            for (String coding : headers.nextElement().split(",")) {
                String[] parts = coding.split(";");
                boolean refused = parts.length > 1 && parts[1].trim().matches("[qQ]\\s*=\\s*0(\\.0*)?");
                if (parts[0].trim().equalsIgnoreCase("gzip") && !refused) {
                    response.setHeader("Content-Encoding", "gzip");
                    return true;
                }
            }
        }
        return false;
    }

    /** If-None-Match (weak comparison, as RFC 9110 asks for it), else If-Modified-Since. */
    private static boolean notModified(HttpServletRequest request, String etag, long lastModified) {
        String ifNoneMatch = request.getHeader(Constants.HEADER_IF_NONE_MATCH);
        if (ifNoneMatch != null) {
            return matchesAny(ifNoneMatch, etag);
        }
        String ifModifiedSince = request.getHeader(Constants.HEADER_IF_MODIFIED_SINCE);
        if (ifModifiedSince != null) {
            Date since = DateUtils.parseDate(ifModifiedSince);
            return since != null && lastModified <= since.getTime();
        }
        return false;
    }

    /**
     * If-Range: serve the range only if the client's copy is the current one. The version's bytes
     * never change, so its (weak) ETag identifies them exactly and is accepted here.
     */
    private static boolean rangeStillValid(HttpServletRequest request, String etag, String lastModifiedText) {
        String ifRange = request.getHeader("If-Range");
        if (ifRange == null) {
            return true;
        }
        String value = ifRange.trim();
        if (value.startsWith("\"") || value.startsWith("W/")) {
            return opaque(value).equals(opaque(etag));
        }
        return value.equals(lastModifiedText);
    }

    private static boolean matchesAny(String header, String etag) {
        String ours = opaque(etag);
        for (String tag : header.split(",")) {
            String candidate = tag.trim();
            if (candidate.equals("*") || opaque(candidate).equals(ours)) {
                return true;
            }
        }
        return false;
    }

    private static String opaque(String tag) {
        String value = tag.trim();
        if (value.startsWith("W/")) {
            value = value.substring(2);
        }
        return value;
    }
}
