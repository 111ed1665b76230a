package dev.bulkfhir.server.auth;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code [base]/.well-known/smart-configuration}: where the token endpoint is and what it takes.
 * URLs are built from the URL the client used, so they work under whatever name it reached us.
 */
final class SmartConfigurationServlet extends HttpServlet {

    static final List<String> SCOPES_SUPPORTED = List.of("system/*.read", "system/*.write", "system/*.*",
            "system/*.rs", "system/*.cruds");

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response)
            throws IOException, ServletException {
        if (!request.getMethod().equals("GET") && !request.getMethod().equals("HEAD")) {
            response.setHeader("Allow", "GET, HEAD");
            TokenEndpointServlet.send(response, 405, Map.of("error", "invalid_request",
                    "error_description", "The SMART configuration is read with GET."));
            return;
        }
        super.service(request, response);
    }

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String url = request.getRequestURL().toString();
        String base = url.substring(0, url.length() - SmartAuth.DISCOVERY_PATH.length());
        Map<String, Object> configuration = new LinkedHashMap<>();
        configuration.put("token_endpoint", base + SmartAuth.TOKEN_PATH);
        configuration.put("token_endpoint_auth_methods_supported", List.of("private_key_jwt"));
        configuration.put("token_endpoint_auth_signing_alg_values_supported", List.of("RS384", "ES384"));
        configuration.put("grant_types_supported", List.of("client_credentials"));
        configuration.put("scopes_supported", SCOPES_SUPPORTED);
        configuration.put("capabilities",
                List.of("client-confidential-asymmetric", "permission-v1", "permission-v2"));
        response.setHeader("Cache-Control", "max-age=300");
        TokenEndpointServlet.send(response, 200, configuration);
    }
}
