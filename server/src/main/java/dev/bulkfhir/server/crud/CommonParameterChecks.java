package dev.bulkfhir.server.crud;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import dev.bulkfhir.providers.HookRefusals;
import dev.bulkfhir.providers.RequestSideChannels;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;

/**
 * The parameters FHIR defines for every interaction ({@code _format}, {@code _summary}, {@code _count})
 * and search ({@code _total}) with a value HAPI would silently ignore: refused, so that a client
 * learns its request was not understood (406 for a format this server does not write, 400 for the
 * rest). Binary has its own {@code _format} rules (native content), and keeps them.
 */
public final class CommonParameterChecks {

    @Hook(Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED)
    public boolean check(RequestDetails request, HttpServletRequest servletRequest, HttpServletResponse servletResponse)
            throws IOException {
        try {
            if (!"Binary".equals(request.getResourceName())) {
                requireKnownFormat(request);
            }
            requireKnownSummary(request);
            requireKnownTotal(request);
            requireCount(request);
            return true;
        } catch (BaseServerResponseException e) {
            HookRefusals.answer(e, request, servletRequest, servletResponse);
            return false;
        }
    }

    private static void requireKnownFormat(RequestDetails request) {
        String[] formats = request.getParameters().get(Constants.PARAM_FORMAT);
        if (formats == null) return;
        for (String format : formats) {
            String mediaType = format.split(";", 2)[0].trim();
            if (EncodingEnum.forContentType(mediaType) == null) {
                RequestSideChannels.dropParameters(request, Constants.PARAM_FORMAT); // so that the refusal itself can be written
                throw new UnclassifiedServerFailureException(406, "_format=" + format + " is not a format this server writes: use"
                        + " json, xml, application/fhir+json or application/fhir+xml.");
            }
        }
    }

    private static void requireKnownSummary(RequestDetails request) {
        String[] summaries = request.getParameters().get(Constants.PARAM_SUMMARY);
        if (summaries == null) return;
        for (String summary : summaries) {
            if (SummaryEnum.fromCode(summary) == null) {
                RequestSideChannels.dropParameters(request, Constants.PARAM_SUMMARY);
                throw new InvalidRequestException("_summary=" + summary
                        + " is not a summary mode: use true, false, text, data or count.");
            }
        }
    }

    private static void requireKnownTotal(RequestDetails request) {
        String[] totals = request.getParameters().get(Constants.PARAM_SEARCH_TOTAL_MODE);
        if (totals == null) return;
        for (String total : totals) {
            if (TotalMode.parse(total) == null) {
                throw new InvalidRequestException("_total=" + total
                        + " is not a total mode: use none, estimate or accurate.");
            }
        }
    }

    private static void requireCount(RequestDetails request) {
        String[] counts = request.getParameters().get(Constants.PARAM_COUNT);
        if (counts == null) return;
        for (String count : counts) {
            int value;
            try {
                value = Integer.parseInt(count.trim());
            } catch (NumberFormatException e) {
                value = -1;
            }
            if (value < 0) {
                throw new InvalidRequestException("_count=" + count + " is not a page size: use a whole number,"
                        + " 0 or more.");
            }
        }
    }
}
