package dev.bulkfhir.server.ops;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.server.servlet.ServletRequestDetails;
import dev.bulkfhir.providers.RequestSideChannels;
import dev.bulkfhir.providers.auth.ClientAccess;

/**
 * Tells the request log which client a FHIR request came from: once HAPI is done with a request
 * (answered, refused or streamed by a hook), the client the bearer interceptor admitted, if any.
 */
@Interceptor
public final class RequestClient {

    @Hook(Pointcut.SERVER_PROCESSING_COMPLETED)
    public void completed(ServletRequestDetails request) {
        ClientAccess access = RequestSideChannels.admittedClient(request);
        if (request.getServletRequest().getAttribute(RequestFacts.ATTRIBUTE) instanceof RequestFacts facts
                && access != null) {
            facts.clientId(access.clientId());
        }
    }
}
