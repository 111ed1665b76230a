package dev.bulkfhir.server.crud;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import dev.bulkfhir.providers.HookRefusals;
import dev.bulkfhir.storage.resource.JsonNumbers;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.util.Set;

/**
 * Refuses a JSON resource or Bundle body with a number too long to store before HAPI parses it: HAPI's
 * parser writes {@code 1e999999} out in full, which alone costs it most of a minute. (The store checks
 * what HAPI encodes too, which covers XML.) Binary bodies are left to the Binary endpoint, which
 * streams raw ones.
 */
public final class JsonBodyCheck {

    private static final Set<RestOperationTypeEnum> WRITES = Set.of(RestOperationTypeEnum.CREATE,
            RestOperationTypeEnum.UPDATE, RestOperationTypeEnum.TRANSACTION);

    @Hook(Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED)
    public boolean check(RequestDetails request, HttpServletRequest servletRequest, HttpServletResponse servletResponse)
            throws IOException {
        if (!WRITES.contains(request.getRestOperationType()) || "Binary".equals(request.getResourceName())) {
            return true;
        }
        String contentType = request.getHeader(Constants.HEADER_CONTENT_TYPE);
        if (contentType == null || EncodingEnum.forContentType(contentType) != EncodingEnum.JSON) {
            return true;
        }
        try {
            byte[] body = request.loadRequestContents(); // kept: HAPI parses from these bytes
            String tooLong = JsonNumbers.findTooLong(body, 0, body.length);
            if (tooLong != null) {
                throw new InvalidRequestException(tooLong);
            }
            return true;
        } catch (BaseServerResponseException e) {
            HookRefusals.answer(e, request, servletRequest, servletResponse);
            return false;
        }
    }
}
