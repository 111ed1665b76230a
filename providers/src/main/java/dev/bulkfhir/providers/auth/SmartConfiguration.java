package dev.bulkfhir.providers.auth;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code [base]/.well-known/smart-configuration}: where the token endpoint is and what it takes. */
final class SmartConfiguration {

    static final List<String> SCOPES_SUPPORTED = List.of("system/*.read", "system/*.write", "system/*.*",
            "system/*.rs", "system/*.cruds");

    private SmartConfiguration() {
    }

    static void serve(String base, HttpServletRequest request, HttpServletResponse response) throws IOException {
        if (!request.getMethod().equals("GET") && !request.getMethod().equals("HEAD")) {
            response.setHeader("Allow", "GET, HEAD");
            TokenEndpoint.send(response, 405, Map.of("error", "invalid_request",
                    "error_description", "The SMART configuration is read with GET."));
            return;
        }
        Map<String, Object> configuration = new LinkedHashMap<>();
        configuration.put("token_endpoint", base + SmartAuth.TOKEN_PATH);
        configuration.put("token_endpoint_auth_methods_supported", List.of("private_key_jwt"));
        configuration.put("token_endpoint_auth_signing_alg_values_supported", List.of("RS384", "ES384"));
        configuration.put("grant_types_supported", List.of("client_credentials"));
        configuration.put("scopes_supported", SCOPES_SUPPORTED);
        configuration.put("capabilities",
                List.of("client-confidential-asymmetric", "permission-v1", "permission-v2"));
        response.setHeader("Cache-Control", "max-age=300");
        TokenEndpoint.send(response, 200, configuration);
    }
}
