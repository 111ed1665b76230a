package dev.bulkfhir.providers.auth;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;

/**
 * Serves the token endpoint and the SMART discovery document under the FHIR base from inside the
 * RESTful server, before HAPI parses the path (and before the bearer interceptor, which would ask
 * for the very token being requested). So a host needs no servlet of its own for them. Both name the
 * configured base URL, whatever the request's {@code Host} header says.
 */
final class SmartEndpoints {

    private final TokenEndpoint tokenEndpoint;
    private final String base;

    SmartEndpoints(TokenEndpoint tokenEndpoint, String base) {
        this.tokenEndpoint = tokenEndpoint;
        this.base = base;
    }

    @Hook(Pointcut.SERVER_INCOMING_REQUEST_PRE_PROCESSED)
    public boolean serve(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String path = request.getPathInfo() != null ? request.getPathInfo() : request.getServletPath();
        if (SmartAuth.TOKEN_PATH.equals(path)) {
            tokenEndpoint.serve(base + SmartAuth.TOKEN_PATH, request, response);
            return false;
        }
        if (SmartAuth.DISCOVERY_PATH.equals(path)) {
            SmartConfiguration.serve(base, request, response);
            return false;
        }
        return true;
    }
}
