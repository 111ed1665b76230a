package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.RequestSideChannels;

import java.util.List;
import java.util.Locale;

/**
 * Whether a read of a Binary returns its content (native) or the Binary resource (wrapped):
 *
 * <ol>
 *   <li>{@code _format} decides when present: {@code json}, {@code xml}, {@code ttl} and any JSON,
 *       XML or Turtle type HAPI knows ({@code application/fhir+json}, {@code application/json},
 *       the legacy {@code application/json+fhir}...) mean wrapped; a value naming the Binary's own content type
 *       (NDJSON aliases included) means native; anything else is 406.</li>
 *   <li>Otherwise {@code Accept} decides: wrapped when it lists, with q &gt; 0, a FHIR type
 *       ({@code application/fhir+json}, {@code application/fhir+xml}, legacy
 *       {@code application/json+fhir}, {@code application/xml+fhir}, and {@code text/turtle});
 *       the highest q wins, a tie goes
 *       to the first listed. Anything else ({@code *}{@code /*}, {@code application/json},
 *       {@code application/pdf}, a browser's {@code text/html,...}, NDJSON) means native.</li>
 *   <li>No {@code _format} and no {@code Accept}: native.</li>
 * </ol>
 *
 * A wrapped decision is pinned into the request as {@code _format}, so that HAPI's own Binary
 * handling, which runs later, cannot decide differently.
 */
final class ReadRule {

    enum Form { NATIVE, WRAPPED }

    private ReadRule() {
    }

    static Form decide(RequestDetails request, String contentType) {
        String[] formats = request.getParameters().get(Constants.PARAM_FORMAT);
        if (formats != null && formats.length > 0) {
            for (String format : formats) {
                if (isResourceFormat(EncodingEnum.forContentType(mediaType(format)))) {
                    RequestSideChannels.pinParameter(request, Constants.PARAM_FORMAT, format.trim());
                    return Form.WRAPPED;
                }
            }
            for (String format : formats) {
                if (namesContentType(format, contentType)) {
                    RequestSideChannels.dropParameters(request, Constants.PARAM_FORMAT);
                    return Form.NATIVE;
                }
            }
            throw unsupportedFormat(request, formats);
        }
        String accepted = fhirTypeFromAccept(request.getHeaders(Constants.HEADER_ACCEPT));
        if (accepted != null) {
            RequestSideChannels.pinParameter(request, Constants.PARAM_FORMAT, accepted);
            return Form.WRAPPED;
        }
        return Form.NATIVE;
    }

    /**
     * For Binary requests that answer with a resource or a Bundle (search, history, create, update,
     * delete): a {@code _format} that is not JSON, XML or Turtle is refused rather than ignored.
     */
    static void requireResourceFormat(RequestDetails request) {
        String[] formats = request.getParameters().get(Constants.PARAM_FORMAT);
        if (formats == null || formats.length == 0) {
            return;
        }
        for (String format : formats) {
            if (isResourceFormat(EncodingEnum.forContentType(mediaType(format)))) {
                return;
            }
        }
        throw unsupportedFormat(request, formats);
    }

    private static RuntimeException unsupportedFormat(RequestDetails request, String[] formats) {
        // The error itself must be encodable: without this, HAPI would try the refused format for it.
        RequestSideChannels.dropParameters(request, Constants.PARAM_FORMAT);
        return OperationOutcomes.status(406, "not-supported", "_format=" + String.join(",", formats)
                + " is not supported here: use _format=json, xml or ttl (or application/fhir+json,"
                + " application/fhir+xml) for the Binary resource, or leave _format out to get the content"
                + " itself.");
    }

    /** The encodings HAPI writes a single resource in; NDJSON is a format for many. */
    private static boolean isResourceFormat(EncodingEnum encoding) {
        return encoding == EncodingEnum.JSON || encoding == EncodingEnum.XML || encoding == EncodingEnum.RDF;
    }

    /** {@code _format} naming the content's own type, e.g. {@code application/pdf} or {@code ndjson}. */
    private static boolean namesContentType(String format, String contentType) {
        if (contentType == null) {
            return false;
        }
        String wanted = mediaType(format);
        String actual = mediaType(contentType);
        if (wanted.equals(actual)) {
            return true;
        }
        return EncodingEnum.forContentType(wanted) == EncodingEnum.NDJSON
                && EncodingEnum.forContentType(actual) == EncodingEnum.NDJSON;
    }

    /** The FHIR resource type the Accept header prefers, or null if it names none. */
    static String fhirTypeFromAccept(List<String> acceptHeaders) {
        if (acceptHeaders == null) {
            return null;
        }
        String best = null;
        float bestQ = 0;
        for (String header : acceptHeaders) {
            if (header == null) continue;
            for (String range : header.split(",")) {
                String[] parts = range.split(";");
                String type = parts[0].trim().toLowerCase(Locale.ROOT);
                if (!isResourceFormat(EncodingEnum.forContentTypeStrict(type))) {
                    continue;
                }
                float q = quality(parts);
                if (q > bestQ) {
                    best = type;
                    bestQ = q;
                }
            }
        }
        return best;
    }

    private static float quality(String[] parts) {
        for (int i = 1; i < parts.length; i++) {
            String parameter = parts[i].trim();
            if (parameter.startsWith("q=") || parameter.startsWith("Q=")) {
                try {
                    return Math.max(0f, Math.min(1f, Float.parseFloat(parameter.substring(2).trim())));
                } catch (NumberFormatException e) {
                    return 1f; // as HAPI does: a garbled weight does not exclude the type
                }
            }
        }
        return 1f;
    }

    static String mediaType(String value) {
        if (value == null) {
            return "";
        }
        int semicolon = value.indexOf(';');
        return (semicolon < 0 ? value : value.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    }
}
